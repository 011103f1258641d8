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
        "$venv/bin/python" -m pip install -q --upgrade pip
        # torch pinned: this exact version installs a CPU build from the local disk.
        "$venv/bin/python" -m pip install -q "torch==2.13.0"
        "$venv/bin/python" -m pip install -q -e ".[pruning,sweep,test]"
        echo "$want" > "$stamp"
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
