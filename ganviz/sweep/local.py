"""Running a sweep's rows on this machine: batches of members, a process per core.

A batch runner is a function ``(rows, steps, every) -> records``: it runs a
batch of rows and returns their results.csv records in the same order. The
one here, :func:`run_rows`, trains a batch whose rows share an architecture
as one :class:`~ganviz.core.trainer.batched.BatchedEngine` batch, through the
comparison's own lockstep (:func:`ganviz.runner.compare._train_batch`: each
member goes through THE loop on the single headless run's schedule), so a
row equals the single headless run of its config and seed bit for bit on the
CPU. A row the batched engine does not implement (:func:`batchable`), or a
batch of one, runs as that single run itself
(:func:`ganviz.runner.fixed.run_fixed`). :func:`plan` cuts the rows into
such batches.

The processes are spawned (not forked: torch and forks do not mix), each
with its own pipe (not a ``multiprocessing.Pool``, whose ``terminate()``
deadlocks when SIGTERM reaches a worker inside a run), and each uses one
torch thread (the trainer's policy), so ``jobs`` processes keep ``jobs``
cores busy.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from typing import Callable, Iterator

from ganviz.core.variants import arch_key, batchable

from .results import record
from .spec import Row

#: Most members in one batch on the CPU. A batched step gains over its members' single
#: steps as members are added (at gaussian-1d's width 32, 1.2x at 4 members, 2x at 32,
#: docs/sweeps.md), while a batch killed half way loses all its members' rows.
CPU_MEMBERS = 32
#: On CUDA, where a step of these small networks is mostly kernel launches, which a batch
#: shares among its members (not measured: no CUDA device was at hand).
CUDA_MEMBERS = 256
#: Processes a CUDA sweep spreads over: two overlap one batch's host work with the other's
#: kernels; more would only share the one device.
CUDA_JOBS = 2

def cuda_here() -> bool:
    """Whether torch sees a CUDA device, without importing torch on a CPU-only build."""
    from importlib import metadata

    try:
        if metadata.version("torch").endswith("+cpu"):
            return False
    except metadata.PackageNotFoundError:
        pass
    import torch

    return torch.cuda.is_available()


def plan(rows: list[Row], jobs: int, members: int | None = None,
         cuda: bool | None = None) -> list[list[Row]]:
    """Cut ``rows`` into batches: rows of one architecture together, at most ``members`` each.

    Batches are near-equal slices of each architecture's rows (in sweep
    order), small enough that there are at least ``jobs`` of them when there
    are that many rows, so every process has work to the end. Rows that run
    alone (:func:`batchable`) are batches of one. ``members`` defaults to
    :data:`CPU_MEMBERS`, or :data:`CUDA_MEMBERS` when the rows train on CUDA
    (``device`` cuda, or auto with a CUDA device here; ``cuda`` overrides the look).
    """
    groups: dict[tuple, list[Row]] = {}
    alone = []
    for row in rows:
        if batchable(row.config):
            groups.setdefault(arch_key(row.config), []).append(row)
        else:
            alone.append([row])
    on_cuda = any(r.config.device == "cuda" for r in rows) or (
        any(r.config.device == "auto" for r in rows) and (cuda_here() if cuda is None else cuda))
    if members is None:
        members = CUDA_MEMBERS if on_cuda else CPU_MEMBERS
        spread = min(jobs, CUDA_JOBS) if on_cuda else jobs
    else:
        spread = jobs
    members = max(1, members)
    batched = sum(len(g) for g in groups.values())
    size = max(1, min(members, math.ceil(batched / max(1, spread)))) if batched else 1
    out = []
    for group in groups.values():
        n = math.ceil(len(group) / size)
        bounds = [round(i * len(group) / n) for i in range(n + 1)]
        out.extend(group[a:b] for a, b in zip(bounds, bounds[1:]))
    return out + alone


def run_rows(rows: list[Row], steps: int, every: int) -> list[dict]:
    """Run a batch of rows; their results.csv records in the same order.

    Rows that share an architecture and are :func:`batchable` train as one
    batched-engine batch (each member's ``seconds`` is the batch's wall time
    over its members, its ``steps_per_s`` the steps over that share); any
    other row runs as the single headless run. A diverged run is a record too
    (``diverged`` true, the one-line message in ``error``, metrics NaN); any
    other failure propagates.
    """
    import ganviz.core.trainer  # noqa: F401  (imported before the clock starts: torch's import is no run's time)

    if len(rows) > 1 and all(batchable(r.config) for r in rows) \
            and len({arch_key(r.config) for r in rows}) == 1:
        return _run_batch(rows, steps, every)
    return [_run_single(row, steps, every) for row in rows]


def _run_single(row: Row, steps: int, every: int) -> dict:
    from ganviz.runner.fixed import Interrupted, run_fixed

    t0 = time.perf_counter()
    try:
        result, error = run_fixed(row.config, steps, every=every), ""
    except FloatingPointError as exc:
        result, error = None, str(exc)
    except Interrupted:  # Ctrl+C or SIGTERM reached this process: the sweep stops
        raise KeyboardInterrupt from None
    return record(row, result, time.perf_counter() - t0, error)


def _run_batch(rows: list[Row], steps: int, every: int) -> list[dict]:
    # The comparison's lockstep, imported rather than repeated: one way to step members.
    from ganviz.runner.compare import _train_batch

    t0 = time.perf_counter()
    found = _train_batch([r.config for r in rows], steps, every, False)
    share = (time.perf_counter() - t0) / len(rows)
    out = []
    for row, r in zip(rows, found):
        result, error = r["metrics"], ""
        if result is None:  # the message of run_fixed's FloatingPointError, word for word
            d = r["diverged"]
            error = (f"training diverged at step {d['step']:,}: {d['quantity']} is not "
                     f"finite; likely cause: {d['cause']}")
        else:
            result = {**result, "steps_per_s": round(steps / share, 1) if share > 0 else None}
        out.append(record(row, result, share, error))
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
