"""Running a sweep's rows on this machine: batches over a pool of processes, one per core.

A batch runner is a function ``(rows, steps, every) -> records``: it runs a
batch of rows and returns their results.csv records in the same order. The
one here, :func:`run_rows`, runs each row as the single headless run
(:func:`ganviz.runner.fixed.run_fixed`), so a row equals that run bit for
bit. The pool's processes are spawned (not forked: torch and forks do not
mix) and each uses one torch thread (the trainer's policy), so a pool of
``jobs`` processes keeps ``jobs`` cores busy. A batch is one row here: with
one torch thread per process there is nothing to share, and small batches
keep the cores evenly loaded to the end.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Callable, Iterable, Iterator

from .results import record
from .spec import Row


def run_rows(rows: list[Row], steps: int, every: int) -> list[dict]:
    """Run each row as the headless run of its config and seed; its results.csv record.

    A diverged run is a record too (``diverged`` true, the one-line message in
    ``error``, metrics NaN); any other failure propagates.
    """
    import ganviz.core.trainer  # noqa: F401  (imported before the clock starts: torch's import is no run's time)
    from ganviz.runner.fixed import Interrupted, run_fixed

    out = []
    for row in rows:
        t0 = time.perf_counter()
        try:
            result, error = run_fixed(row.config, steps, every=every), ""
        except FloatingPointError as exc:
            result, error = None, str(exc)
        except Interrupted as exc:  # Ctrl+C reached this process too: a plain, picklable error
            raise RuntimeError(str(exc)) from None
        out.append(record(row, result, time.perf_counter() - t0, error))
    return out


BatchRunner = Callable[[list[Row], int, int], list[dict]]


def _call(args):
    runner, rows, steps, every = args
    return runner(rows, steps, every)


def default_jobs() -> int:
    """Processes to use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_local(batches: list[list[Row]], steps: int, every: int, jobs: int,
              runner: BatchRunner = run_rows) -> Iterator[list[dict]]:
    """Yield each batch's records as it finishes (in finishing order).

    The pool is terminated when the caller stops iterating (an error, Ctrl+C):
    no process outlives the sweep.
    """
    jobs = max(1, min(jobs, len(batches)))
    ctx = multiprocessing.get_context("spawn")
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # read by the spawned children at their start
    try:
        pool = ctx.Pool(jobs, maxtasksperchild=None)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        work: Iterable = ((runner, b, steps, every) for b in batches)
        yield from pool.imap_unordered(_call, work, chunksize=1)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
