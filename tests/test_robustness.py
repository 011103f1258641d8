"""Bad paths and files end in one line and exit 2; killed writes and killed sweeps leave nothing
behind; output files have ordinary permissions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rram_sim.cli import error_line, main
from rram_sim.examples import example_path
from rram_sim.fileio import atomic_write_json, remove_stale_temporaries


def _run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_output_under_a_regular_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    rc, _, err = _run(["simulate", str(example_path("dense")), "-o", str(blocker / "rep")],
                      capsys)
    assert rc == 2
    line = _one_line(err)
    assert str(blocker) in line and "not a directory" in line


def test_output_folder_that_is_a_file_is_one_line(tmp_path, capsys):
    target = tmp_path / "rep"
    target.write_text("x")
    rc, _, err = _run(["simulate", str(example_path("dense")), "-o", str(target)], capsys)
    assert rc == 2 and str(target) in _one_line(err)


def test_binary_report_file_is_one_line(tmp_path, capsys):
    d = tmp_path / "rep"
    d.mkdir()
    (d / "report.json").write_bytes(b"\xff\xfe\x00\x81binary")
    rc, _, err = _run(["plot", str(d), "-o", str(tmp_path / "plots")], capsys)
    assert rc == 2
    assert "not a text file" in _one_line(err) or "report" in _one_line(err)


def test_error_line_leaves_bugs_alone():
    assert error_line(ValueError("a bug")) is None
    assert error_line(KeyError("x")) is None
    assert "too deeply" in error_line(RecursionError())
    assert error_line(PermissionError(13, "Permission denied", "/x")) == "/x: permission denied"


def test_closed_pipe_exits_quietly():
    """`rram-sim chip isaac --yaml | head -1`: no BrokenPipeError traceback."""
    cmd = f"{sys.executable} -m rram_sim chip isaac --yaml | head -1"
    r = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr


def test_stale_temporaries_are_removed_on_the_next_write(tmp_path):
    target = tmp_path / "state.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".state.json.{dead_pid}.abc123.tmp"
    live = tmp_path / f".state.json.{os.getpid()}.def456.tmp"
    other = tmp_path / f".other.json.{dead_pid}.ghi789.tmp"
    for p in (stale, live, other):
        p.write_text("half")
    atomic_write_json(target, {"a": 1})
    assert not stale.exists()          # its writer is gone
    assert live.exists()               # a live writer's file is kept
    assert other.exists()              # another file's temporaries are not ours to remove
    assert remove_stale_temporaries(target) == []


def test_output_files_respect_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {})
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        atomic_write_json(tmp_path / "b.json", {})
        assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_pool_workers_exit_when_the_sweep_is_killed(tmp_path):
    """The process backend's workers watch their parent: killing the sweep ends them."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import multiprocessing, os, sys, time
        from concurrent.futures import ProcessPoolExecutor
        from rram_sim.sweep.backends import exit_with_parent
        if __name__ == "__main__":
            pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=exit_with_parent, initargs=(os.getpid(), 0.1))
            pool.submit(time.sleep, 60)
            time.sleep(0.5)
            while not pool._processes:
                time.sleep(0.1)
            print(list(pool._processes)[0], flush=True)
            time.sleep(1.0)
            os._exit(0)   # as a kill would: no pool shutdown
    """))
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120, cwd=root, env=env)
    assert r.stdout.strip(), r.stderr
    worker = int(r.stdout.split()[0])

    def running() -> bool:   # a zombie (exited, not yet reaped by its new parent) has ended
        try:
            stat = Path(f"/proc/{worker}/stat").read_text()
        except OSError:
            return False
        return stat.rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 20
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = running()
    if alive:   # clean up before failing
        os.kill(worker, 9)
    assert not alive, "the pool worker outlived its parent"


@pytest.mark.parametrize("content, expect", [
    (b"\xff\xfe\x00binary", "not a text file"),
    (b"[" * 100000 + b"]" * 100000, "nested too deeply"),
    (b'{"version": 2}', "missing key(s)"),
    (b'{"version": 1}', "re-run"),
    (b"{not json", "not valid JSON"),
])
def test_bad_report_files_name_the_file(tmp_path, content, expect):
    from rram_sim.errors import LayoutError
    from rram_sim.report import Report

    d = tmp_path / "bad"
    d.mkdir()
    (d / "report.json").write_bytes(content)
    with pytest.raises(LayoutError) as e:
        Report.load(d)
    assert expect in str(e.value) and str(d / "report.json") in str(e.value)


def test_report_with_a_mistyped_field_is_refused(tmp_path):
    from rram_sim.bundle import load_bundle
    from rram_sim.errors import LayoutError
    from rram_sim.report import Report
    from rram_sim.simulate import simulate

    rep = simulate(load_bundle(example_path("dense")))
    d = rep.save(tmp_path / "rep")
    good = Report.load(d)
    assert good.runs == rep.runs
    import json
    data = json.loads((d / "report.json").read_text())
    data["records"] = "oops"
    (d / "report.json").write_text(json.dumps(data))
    with pytest.raises(LayoutError, match="'records' must be a list"):
        Report.load(d)


def test_simulate_batch_is_bounded(capsys):
    rc, _, err = _run(["simulate", str(example_path("dense")), "--batch", "10000000", "-o",
                       "/nonexistent/never-written"], capsys)
    assert rc == 2 and "--batch=10000000" in _one_line(err)
