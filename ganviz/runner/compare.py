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
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import IO

import numpy as np

from ganviz.core.config import Config
from ganviz.core.datakey import with_p_data
from ganviz.core.variants import label

from .fixed import Interrupted, stop_on_signals

def build_engines(configs: list[Config]) -> list:
    """One engine per config: members that share an architecture train as one batch.

    A :class:`~ganviz.core.trainer.batched.BatchedEngine` takes each group of
    two or more configs with equal architecture keys whose every key it
    implements; any other config (alone in its architecture, or with a key
    only the single engine has) gets a single :class:`~ganviz.core.trainer.Engine`.
    """
    from ganviz.core.trainer import Engine
    from ganviz.core.trainer.batched import BatchedEngine, batchable, batches

    engines: list = [None] * len(configs)
    for group in batches(configs):
        together = [i for i in group if batchable(configs[i])]
        if len(together) >= 2:
            batch = BatchedEngine([configs[i] for i in together])
            for i, member in zip(together, batch.members):
                engines[i] = member
    for i, c in enumerate(configs):
        if engines[i] is None:
            engines[i] = Engine(c)
    return engines


class Lockstep:
    """The members of a comparison, each through THE loop, driven in lockstep in one thread.

    Every member has its own :func:`~ganviz.core.loop.train` generator and
    :class:`~ganviz.core.loop.Inbox`; what the supervisor says arrives in
    ``master`` and is handed to every member's inbox only between rounds (a
    round: one event of each member, in order), when all members stand at the
    same step. So a change, a pause or a single step reaches every member at
    the same iteration, as it would reach each single run. With ``follow``
    (the window's clock schedule) member 0 leads and the others train up to
    its step each round; headless runs (a steps schedule) need no leader. While
    every member is paused and nothing asks for an event, no generator is
    resumed (it would wait inside): the driver waits on ``master`` instead.

    Parameters
    ----------
    configs, engines : list
        The members' configs and engines (:func:`build_engines`).
    master : Inbox
        The commands for every member.
    follow : bool
        Followers train to member 0's step (for a clock schedule).
    states : list, optional
        An engine state per member to start from (a session's).
    **train_kw
        The rest of :func:`~ganviz.core.loop.train`'s keywords, shared.
    """

    def __init__(self, configs: list[Config], engines: list, master, *, follow: bool = False,
                 states: list | None = None, **train_kw) -> None:
        from ganviz.core.loop import DivergencePolicy, Inbox, train

        self.configs, self.engines, self.master = configs, engines, master
        self.inboxes = [Inbox() for _ in configs]
        for e in engines:  # the live measurements' time budget is shared by the members
            e.measure_share = 1.0 / len(engines)
        self._pause_on_divergence = train_kw.get("policy", DivergencePolicy()).on_divergence == "pause"
        lead = engines[0]
        self.gens = [
            train(c, self.inboxes[i], engine=e, state=states[i] if states else None,
                  until=(lambda: lead.step) if follow and i > 0 else None, **train_kw)
            for i, (c, e) in enumerate(zip(configs, engines))]
        self._paused = False  # what the members' inboxes were last told
        self._idle = False  # every member waits, paused, inside its loop

    @property
    def step(self) -> int:
        return self.engines[0].step

    def events(self):
        """Yield (member index, event) until every member's loop has ended."""
        from ganviz.core.events import Diverged, Started

        alive = list(range(len(self.gens)))
        while alive:
            wake = self._hand_out()
            if self._idle and not wake:
                self.master.wait(0.1)
                continue
            paused = all(self.inboxes[i].paused for i in alive)
            started = False
            for i in list(alive):
                event = next(self.gens[i], None)
                if event is None:
                    alive.remove(i)
                    continue
                started |= isinstance(event, Started)
                if isinstance(event, Diverged) and self._pause_on_divergence:
                    self.master.pause()  # one member diverged: all pause at the next round
                yield i, event
            # Each loop now waits in its paused branch: resuming one would block, unless
            # single steps wait for it (those asked before its first Paused came out).
            self._idle = paused and not started and not any(self.inboxes[i].stepping
                                                            for i in alive)

    def _hand_out(self) -> bool:
        """Give the members what ``master`` holds; True when it makes every member yield."""
        m = self.master
        for fn in m.take_calls():  # between rounds: every member at the same step
            fn(self)
        if m.stopped:
            for inbox in self.inboxes:
                inbox.stop()
            return True
        wake = False
        changes = m.take()
        if changes:
            for inbox in self.inboxes:
                inbox.put(dict(changes))
            # A freeze or a new view while paused shows its picture (as a single run's loop
            # does); other changes wait for the next step.
            wake = any(k.startswith("freeze_") or k == "view" for k in changes)
        if m.paused != self._paused:
            self._paused = m.paused
            for inbox in self.inboxes:
                inbox.pause() if m.paused else inbox.resume()
            wake = True
        steps = m.take_steps()
        if steps:
            for inbox in self.inboxes:
                for kind in steps:
                    inbox.request_steps(1, kind)
            wake = True
        return wake

    def state(self, full: bool = True) -> dict:
        """{"members": [each member's engine state]} (between rounds: all at one step)."""
        return {"members": [e.state(full=full) for e in self.engines]}


#: In a pool's worker: the event that asks its batches to stop (Ctrl+C, SIGTERM in the parent).
_STOP = None


def _init_worker(stop) -> None:
    """A pool worker: the terminal's Ctrl+C is the parent's to handle; ``stop`` says when."""
    global _STOP
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _STOP = stop


def _watch(stop, master) -> None:
    """Stop the lockstep's members (after their current step) once ``stop`` is set."""
    def wait() -> None:
        while not stop.wait(0.2):
            if master.stopped:
                return
        master.stop()

    threading.Thread(target=wait, name="ganviz-compare-stop", daemon=True).start()


def _train_batch(configs: list[Config], steps: int, every: int, keep_rows: bool,
                 stop=None) -> list[dict]:
    """Train configs in this process; per member: final metrics, or the divergence, and rows.

    ``stop`` (an event; in a pool's worker, the one it was given) ends every
    member after its current step: its entry then says ``stopped`` at that step.
    """
    from ganviz.core.events import Diverged, Finished, Started, Stopped
    from ganviz.core.history import measured_columns
    from ganviz.core.loop import DivergencePolicy, Inbox, Schedule
    from ganviz.core.trainer import set_threads

    set_threads()
    master = Inbox()
    stop = stop if stop is not None else _STOP
    if stop is not None:
        _watch(stop, master)
    lock = Lockstep(configs, build_engines(configs), master,
                    schedule=Schedule.every_steps(every),
                    policy=DivergencePolicy(on_divergence="stop"), max_steps=steps)
    out = [{"metrics": None, "diverged": None, "stopped": None, "rows": []} for _ in configs]
    for i, event in lock.events():
        if keep_rows and not isinstance(event, Started):
            out[i]["rows"].append((event.snapshot.history, measured_columns(event.snapshot)))
        if isinstance(event, Diverged):
            out[i]["diverged"] = {"step": event.step, "quantity": event.quantity,
                                  "cause": event.cause}
        elif isinstance(event, Finished):
            out[i]["metrics"] = dict(event.metrics)
        elif isinstance(event, Stopped):
            out[i]["stopped"] = event.snapshot.step
    master.stop()  # ends the watcher
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

    Raises
    ------
    Interrupted
        Ctrl+C or SIGTERM: every member stopped after its current step, the
        CSV holds what was done; ``step`` is the least step a member reached.

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
    ctx = get_context("spawn")
    pooled = workers > 1 and len(groups) > 1
    stop = ctx.Event() if pooled else threading.Event()
    with stop_on_signals(stop.set):
        if progress is not None:  # said once a signal stops the members in order
            progress.write(f"training {len(configs)} variants of {key} in {len(groups)} "
                           f"batch{'es' if len(groups) > 1 else ''}\n")
            progress.flush()
        if pooled:
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                     initializer=_init_worker, initargs=(stop,)) as pool:
                futures = [pool.submit(_train_batch, [configs[i] for i in g], steps, every, keep)
                           for g in groups]
                results = [f.result() for f in futures]
        else:
            results = []
            for g in groups:
                results.append(_train_batch([configs[i] for i in g], steps, every, keep, stop))
                if stop.is_set():  # the batches not yet begun never start
                    results += [[{"metrics": None, "diverged": None, "stopped": 0, "rows": []}
                                 for _ in g2] for g2 in groups[len(results):]]
                    break
    seconds = time.perf_counter() - t0
    per_member: list = [None] * len(configs)
    for g, res in zip(groups, results):
        for i, r in zip(g, res):
            per_member[i] = r
    if keep:
        _write_csv(csv_path, key, configs, per_member)
    stopped = [r["stopped"] for r in per_member if r["stopped"] is not None]
    if stopped:
        raise Interrupted(min(stopped))  # the CSV holds what was done
    runs = []
    for c, r in zip(configs, per_member):
        entry = {"variant": label(key, c)}
        if r["metrics"] is not None:
            entry.update(r["metrics"])
        else:
            entry.update(config=c.to_dict(), diverged=r["diverged"])
        runs.append(with_p_data(entry, c.data))  # as its single headless run says
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
#: two processes (by default, when a core is free): at the bench width a batched product
#: costs about what its members' products cost one by one, so the second core is what
#: speeds a batch up (1.74x and 1.97x one run as two halves on the quiet machine, against
#: 0.92x and 1.06x as one batch). At width 32 two halves gave 2.10x in one run and 0.88x in
#: the next (docs/performance.md): not reliably better than one batch, which stays.
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
