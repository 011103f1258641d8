#!/usr/bin/env bash
# One entry point for a fresh machine: sets up .venv inside the checkout (once; again when setup.cfg
# changes), then runs the main job or the tests.
#   bash run.sh demo [ARGS...]   the main job on the embedded defaults (output folder: out/demo)
#   bash run.sh test [ARGS...]   the whole test suite (ARGS go to pytest)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
venv="$here/.venv"
py="${PYTHON:-python3}"

setup() {
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
    fi
    stamp="$venv/.setup-stamp"
    want="$(cat setup.cfg pyproject.toml run.sh | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        # Say what is being installed: a first setup takes a few minutes.
        echo "setup (once): a virtual environment in $venv" >&2
        echo "  [1/3] upgrading pip" >&2
        "$venv/bin/python" -m pip install -q --upgrade pip
        # torch pinned: this exact version installs a CPU build from the local disk.
        echo "  [2/3] PyTorch 2.13.0, CPU build (about 750 MB installed)" >&2
        "$venv/bin/python" -m pip install -q "torch==2.13.0"
        echo "  [3/3] rram-sim and the front-end with their dependencies (numpy, numba, simpy," \
             "matplotlib, pyyaml, tqdm, scikit-learn, dask; pytest, hypothesis, ruff)" >&2
        "$venv/bin/python" -m pip install -q -e ".[pruning,sweep,test]"
        echo "$want" > "$stamp"
        echo "setup done" >&2
    fi
}

cmd="${1:-demo}"
shift || true
setup
case "$cmd" in
    demo)
        exec "$venv/bin/rram-prune" demo "$@" ;;
    test)
        exec "$venv/bin/python" -m pytest "$@" ;;
    setup)
        ;;
    *)
        echo "usage: bash run.sh demo|test|setup [ARGS...]" >&2
        exit 2 ;;
esac
