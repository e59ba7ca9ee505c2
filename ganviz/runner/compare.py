"""A comparison of variants, trained together, start to end: ``--headless --compare KEY=V1,V2``.

The variants differ in one key of a base config. Variants that share an
architecture train as one batch (:class:`~ganviz.core.trainer.batched.BatchedEngine`);
each member goes through THE loop (:func:`ganviz.core.loop.train`) on the
same schedule as a single headless run, so that its per-step values, its
measurements and its final metrics are those of ``run_fixed`` with its
config, bit for bit on the CPU. Several batches (a key that changes the
architecture, such as ``batch_size``) train in parallel processes, one per
core.
"""

from __future__ import annotations

import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import IO

import numpy as np

from ganviz.core.config import Config
from ganviz.core.variants import label

def _train_batch(configs: list[Config], steps: int, every: int, keep_rows: bool) -> list[dict]:
    """Train one batch in this process; per member: final metrics, or the divergence, and rows."""
    from ganviz.core.events import Diverged, Finished, Started
    from ganviz.core.history import measured_columns
    from ganviz.core.loop import DivergencePolicy, Schedule, train
    from ganviz.core.trainer import set_threads
    from ganviz.core.trainer import Engine
    from ganviz.core.trainer.batched import BatchedEngine, batchable

    set_threads()
    # batches() puts a member with an option the stack does not train alone: its single engine
    engines = BatchedEngine(configs).members if batchable(configs[0]) else [Engine(configs[0])]
    gens = [train(c, schedule=Schedule.every_steps(every), policy=DivergencePolicy(on_divergence="stop"),
                  max_steps=steps, engine=member) for c, member in zip(configs, engines)]
    out = [{"metrics": None, "diverged": None, "rows": []} for _ in configs]
    alive = list(range(len(gens)))
    while alive:  # one event per member in turn: the members' lockstep
        for i in list(alive):
            event = next(gens[i], None)
            if event is None:
                alive.remove(i)
                continue
            if keep_rows and not isinstance(event, Started):
                out[i]["rows"].append((event.snapshot.history, measured_columns(event.snapshot)))
            if isinstance(event, Diverged):
                out[i]["diverged"] = {"step": event.step, "quantity": event.quantity,
                                      "cause": event.cause}
            elif isinstance(event, Finished):
                out[i]["metrics"] = dict(event.metrics)
    return out


def run_compare(
    key: str,
    configs: list[Config],
    steps: int,
    *,
    csv_path: Path | None = None,
    every: int = 100,
    processes: int | None = None,
    progress: IO | None = None,
) -> dict:
    """Train every variant ``steps`` iterations; return the comparison's JSON object.

    Parameters
    ----------
    key : str
        The compared key.
    configs : list of Config
        One per variant (from :func:`parse_compare`).
    steps, every : int
        As for a single headless run (``run_fixed``).
    csv_path : Path, optional
        One metrics CSV for all variants: a ``variant`` column first
        (``key=value``), then the single run's columns; the variants' rows
        one variant after the other.
    processes : int, optional
        Processes the batches train in (default: one per core, at most one
        per batch; one large batch of wide members is split in two halves,
        :func:`worth_halving`, when a core is free); 2 or more always halves
        such a batch; 1 trains everything in this process. The
        numbers do not depend on it: each member is its single run.

    Returns
    -------
    dict
        ``compare`` ({"key", "values"}), ``steps``, ``runs`` (one per variant,
        in order: ``variant`` and the single run's final metrics, with its
        ``config``; a diverged variant has ``diverged`` instead of metrics),
        ``seconds``, ``member_steps_per_s``; over seeds also ``summary``.
    """
    from ganviz.core.trainer.batched import batches

    groups = batches(configs)
    cores = os.cpu_count() or 1
    # Asked for two processes or more: halve a large batch; by default only with a core to spare.
    halve = processes > 1 if processes else cores > 1 and _spare_core(cores)
    if halve and len(groups) == 1 and worth_halving(configs):
        half = len(groups[0]) // 2
        groups = [groups[0][:half], groups[0][half:]]
    workers = processes or min(len(groups), cores)
    t0 = time.perf_counter()
    keep = csv_path is not None
    if workers > 1 and len(groups) > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_train_batch, [configs[i] for i in g], steps, every, keep)
                       for g in groups]
            results = [f.result() for f in futures]
    else:
        results = [_train_batch([configs[i] for i in g], steps, every, keep) for g in groups]
    seconds = time.perf_counter() - t0
    per_member: list = [None] * len(configs)
    for g, res in zip(groups, results):
        for i, r in zip(g, res):
            per_member[i] = r
    if keep:
        _write_csv(csv_path, key, configs, per_member)
    runs = []
    for c, r in zip(configs, per_member):
        entry = {"variant": label(key, c)}
        if r["metrics"] is not None:
            entry.update(r["metrics"])
        else:
            entry.update(config=c.to_dict(), diverged=r["diverged"])
        runs.append(entry)
    out = {
        "compare": {"key": key, "values": [getattr(c, key) for c in configs]},
        "steps": steps,
        "runs": runs,
        "batches": len(groups),
        "seconds": round(seconds, 2),
        "member_steps_per_s": round(steps * len(configs) / seconds, 1) if seconds > 0 else None,
    }
    if key == "seed":
        out["summary"] = seed_summary(runs)
    if progress is not None:
        progress.write(f"compared {len(configs)} variants of {key} in {seconds:.1f} s\n")
    return out


#: A batch of at least this many members, of at least this width, trains as two halves in
#: two processes (by default, when a core is free): at the bench width the matrix products
#: dominate a step and a batched product costs about what its members' products cost one
#: by one, so a second core is what speeds it up; narrower members gain more from one batch.
HALVE_MEMBERS, HALVE_WIDTH = 4, 64


def worth_halving(configs: list[Config]) -> bool:
    """Whether one batch of ``configs`` trains faster as two halves on two cores."""
    return len(configs) >= HALVE_MEMBERS and configs[0].hidden >= HALVE_WIDTH


def _spare_core(cores: int) -> bool:
    """Whether the machine has a core to spare (1-minute load average below cores - 1).

    On a busy machine a second process only competes with the first: the
    bench measured two halves at 0.8x one batch with a load average of 15 on 2 cores.
    """
    try:
        return os.getloadavg()[0] < cores - 1
    except (AttributeError, OSError):  # no load average here: assume the cores are free
        return True


def mean_se(values: list[float]) -> dict:
    """{"mean", "se", "n"}: the mean and its standard error (sample std / sqrt(n))."""
    a = np.asarray(values, dtype=np.float64)
    n = len(a)
    se = float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else None
    return {"mean": float(a.mean()), "se": se, "n": n}


def seed_summary(runs: list[dict]) -> dict:
    """Modes captured and JS over seeds: mean +- s.e., in the format of the PacGAN/VEEGAN tables."""
    out = {}
    for name in ("modes_captured", "js"):
        values = [r[name] for r in runs if r.get(name) is not None]
        if len(values) < 2:
            continue
        s = mean_se(values)
        digits = 1 if name == "modes_captured" else 3
        s["text"] = (f"{name.replace('_', ' ')}: {s['mean']:.{digits}f} \u00b1 {s['se']:.{digits}f} "
                     f"(s.e. over {s['n']} seeds)")
        out[name] = s
    return out


def _write_csv(path: Path, key: str, configs: list[Config], per_member: list) -> None:
    from ganviz.core.history import MetricsCsv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        for i, (c, r) in enumerate(zip(configs, per_member)):
            writer = MetricsCsv(handle, lead=("variant", label(key, c)), header=i == 0)
            for steps_cols, measured in r["rows"]:
                writer.write(steps_cols, measured)
