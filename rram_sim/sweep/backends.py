"""Where sweep points run: this process, a local process pool or a Dask cluster."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

from rram_sim.errors import ConfigError
from rram_sim.sweep.point import run_point


@contextlib.contextmanager
def _one_numba_thread() -> Iterator[None]:
    """Workers started inside this block inherit NUMBA_NUM_THREADS=1 (read at numba import)."""
    old = os.environ.get("NUMBA_NUM_THREADS")
    os.environ["NUMBA_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("NUMBA_NUM_THREADS", None)
        else:
            os.environ["NUMBA_NUM_THREADS"] = old


def exit_with_parent(parent_pid: int, poll_s: float = 0.5) -> None:
    """Pool-worker initializer: a daemon thread ends this worker as soon as its parent is gone (a
    killed sweep's workers would otherwise run on with no one to collect their results)."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _serial(tasks, workers, scheduler, dask_processes):
    for t in tasks:
        yield run_point(t)


def _process(tasks, workers, scheduler, dask_processes):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with _one_numba_thread(), ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(run_point, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def _dask(tasks, workers, scheduler, dask_processes):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ConfigError("backend=dask: dask.distributed is not installed (pip install "
                          "'rram-sim[sweep]')") from None
    with contextlib.ExitStack() as stack:
        stack.enter_context(_one_numba_thread())
        if scheduler:
            try:
                client = stack.enter_context(Client(scheduler, timeout="10s"))
            except OSError as exc:
                raise ConfigError(f"scheduler '{scheduler}': cannot connect ({exc})") from None
        else:
            cluster = stack.enter_context(LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=dask_processes,
                dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        futures = client.map(run_point, tasks, pure=False)
        for fut in as_completed(futures):
            yield fut.result()


BACKEND_FUNCS = {"serial": _serial, "process": _process, "dask": _dask}
