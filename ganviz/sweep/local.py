"""Running a sweep's rows on this machine: batches over a pool of processes, one per core.

A batch runner is a function ``(rows, steps, every) -> records``: it runs a
batch of rows and returns their results.csv records in the same order. The
one here, :func:`run_rows`, runs each row as the single headless run
(:func:`ganviz.runner.fixed.run_fixed`), so a row equals that run bit for
bit. The pool's processes are spawned (not forked: torch and forks do not
mix), each with its own pipe, and each uses one torch thread (the trainer's
policy), so ``jobs`` processes keep ``jobs`` cores busy. A batch is one row here: with
one torch thread per process there is nothing to share, and small batches
keep the cores evenly loaded to the end.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Callable, Iterator

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
        except Interrupted:  # Ctrl+C or SIGTERM reached this process: the sweep stops
            raise KeyboardInterrupt from None
        out.append(record(row, result, time.perf_counter() - t0, error))
    return out


BatchRunner = Callable[[list[Row], int, int], list[dict]]


def _worker(conn, runner: BatchRunner) -> None:
    """A pool process: run each batch it is sent, send back its records; None or EOF ends it.

    Ctrl+C reaches the whole process group: between runs it is ignored here
    (the parent decides); during a run, run_fixed stops it after the current
    iteration and the batch fails with a plain error.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        rows, steps, every = task
        try:
            reply = ("ok", runner(rows, steps, every))
        except KeyboardInterrupt:
            reply = ("interrupted", "")
        except Exception as exc:  # noqa: BLE001  (handed to the parent, which names it)
            reply = ("error", f"{type(exc).__name__}: {exc}")
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


def default_jobs() -> int:
    """Processes to use: the cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_local(batches: list[list[Row]], steps: int, every: int, jobs: int,
              runner: BatchRunner = run_rows) -> Iterator[list[dict]]:
    """Yield each batch's records as it finishes (in finishing order).

    Each process has its own pipe (no lock shared between processes), so
    stopping is always possible: when the caller stops iterating (an error,
    Ctrl+C, SIGTERM) every process is killed and reaped; no process outlives
    the sweep, and one killed mid-write can block nobody.
    """
    from multiprocessing.connection import wait

    if not batches:
        return
    jobs = max(1, min(jobs, len(batches)))
    ctx = multiprocessing.get_context("spawn")
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # read by the spawned children at their start
    procs, conns = [], []
    try:
        for _ in range(jobs):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(theirs, runner), daemon=True)
            proc.start()
            theirs.close()
            procs.append(proc)
            conns.append(ours)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        todo = iter(batches)
        busy = {}
        for conn in conns:
            batch = next(todo, None)
            if batch is None:
                break
            conn.send((batch, steps, every))
            busy[conn] = batch
        while busy:
            for conn in wait(list(busy)):
                try:
                    status, value = conn.recv()
                except (EOFError, OSError):
                    raise RuntimeError("a sweep process died (killed, or out of memory?)") \
                        from None
                del busy[conn]
                if status == "interrupted":
                    raise KeyboardInterrupt
                if status != "ok":
                    raise RuntimeError(f"a run failed: {value}")
                batch = next(todo, None)
                if batch is not None:
                    conn.send((batch, steps, every))
                    busy[conn] = batch
                yield value
        for conn in conns:
            conn.send(None)
        for proc in procs:
            proc.join(timeout=30)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for proc in procs:
            proc.join()
        for conn in conns:
            conn.close()
