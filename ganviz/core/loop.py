"""The training loop as a plain generator: it trains, obeys an inbox, yields snapshots.

This is what the GUI's worker runs (in a thread or a child process) and what
the headless command line runs; it needs no Qt. Between steps it checks stop
and pause and applies parameter changes; it yields a :class:`Snapshot` at most
every ``interval`` seconds of wall time, not every step.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import numpy as np

from .config import COLD_KEYS, SNAPSHOT_INTERVAL, Config, ConfigError
from .trainer import Engine
from .probe import Probe, build_snapshot
from .snapshot import Snapshot

#: Loop parameters that are not part of the run's config.
LOOP_KEYS = ("speed", "freeze_d", "freeze_g")
#: What a single step request can ask for.
STEP_KINDS = ("iteration", "d", "g")


class Inbox:
    """Thread-safe mailbox from the GUI (or a test) to a running loop.

    Parameter changes are merged (the latest value of each key wins) and
    drained by the loop between steps. ``speed`` (steps per second, 0 for full
    speed) and ``freeze_d`` / ``freeze_g`` (bool) are loop parameters that ride
    along with the config keys. Calls (:meth:`call`) run in the loop's thread
    between steps, with the engine: a consistent moment to read its state.
    """

    #: The engine of the run this inbox drives, set by :func:`train` (for calls
    #: that arrive after the run ended).
    engine = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict = {}
        self._steps: list[str] = []  # single steps requested while paused, in order
        self._calls: list = []
        self._paused = False
        self._stop = threading.Event()
        self._wake = threading.Event()

    def put(self, changes: dict) -> None:
        """Queue parameter changes for the next step."""
        with self._lock:
            self._changes.update(changes)
        self._wake.set()

    def call(self, fn) -> None:
        """Run ``fn(engine)`` in the loop's thread between two steps, paused or not."""
        with self._lock:
            self._calls.append(fn)
        self._wake.set()

    def take_calls(self) -> list:
        """The calls queued and not yet run (and clears them)."""
        if not self._calls:
            return []
        with self._lock:
            calls, self._calls = self._calls, []
        return calls

    def take(self) -> dict:
        """Remove and return the queued changes (empty dict when none)."""
        if not self._changes:  # cheap unlocked peek: this runs every step
            return {}
        with self._lock:
            changes, self._changes = self._changes, {}
        return changes

    def pause(self) -> None:
        """Stop training after the current step; the loop then waits."""
        with self._lock:
            self._paused = True
        self._wake.set()

    def resume(self) -> None:
        """Continue training at full (or the set) speed."""
        with self._lock:
            self._paused = False
            self._steps = []
        self._wake.set()

    def request_steps(self, n: int = 1, kind: str = "iteration") -> None:
        """While paused: do ``n`` more steps, then yield a snapshot.

        ``kind`` is ``iteration`` (k D steps and one G step, Algorithm 1's
        loop body), ``d`` (one D step) or ``g`` (one G step).
        """
        if kind not in STEP_KINDS:
            raise ValueError(f"unknown step kind {kind!r}; accepted: {', '.join(STEP_KINDS)}")
        with self._lock:
            self._steps.extend([kind] * n)
        self._wake.set()

    def take_steps(self) -> list[str]:
        """The single steps requested and not yet done, in order (and clears them)."""
        with self._lock:
            steps, self._steps = self._steps, []
        return steps

    def stop(self) -> None:
        """Ask the loop to end; it returns after the current step."""
        self._stop.set()
        self._wake.set()

    @property
    def has_changes(self) -> bool:
        """True when parameter changes or calls wait to be taken (unlocked peek)."""
        return bool(self._changes) or bool(self._calls)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float) -> None:
        """Sleep until something arrives or ``timeout`` seconds pass."""
        self._wake.wait(timeout)
        self._wake.clear()


def train(
    config: Config,
    inbox: Inbox | None = None,
    *,
    max_steps: int | None = None,
    interval: float = SNAPSHOT_INTERVAL,
    measure: bool = True,
    run_id: int = 0,
    speed: float = 0.0,
    state: dict | None = None,
) -> Iterator[Snapshot]:
    """Train ``config`` and yield snapshots.

    Parameters
    ----------
    config : Config
        The run.
    inbox : Inbox, optional
        Pause, stop, single steps and parameter changes from another thread.
    max_steps : int, optional
        Stop after this many iterations (the last snapshot is at that step).
    interval : float
        Least wall time between two snapshots, seconds.
    measure : bool
        Compute the per-snapshot measurements (grids, divergences, modes).
    run_id : int
        Stamped on each snapshot; a cold change (a restart) increments it.
    speed : float
        Iterations per second at most; 0 for as fast as possible.
    state : dict, optional
        Weights to start from (see :meth:`Engine.state`).

    Yields
    ------
    Snapshot
        The first at step 0 (before training), then one per ``interval``, one
        after each single step, one on every restart, pause or divergence, and
        a final one when the loop ends.
    """
    inbox = inbox or Inbox()
    engine = inbox.engine = Engine(config)
    if state is not None:
        engine.load_state(state)
    probe = Probe(engine) if measure else None
    snap = _snapshot(engine, probe, run_id, 0.0, "")
    good = engine.state()
    yield snap
    next_emit = time.perf_counter() + interval
    trained = 0.0  # wall seconds spent training, for steps/s
    steps_since, rate = 0, 0.0
    target_time = None  # for speed-limited running

    while not inbox.stopped and (max_steps is None or engine.step < max_steps):
        message = ""
        calls = inbox.take_calls()
        if calls:
            # Hand out the steps not yet shown first: a call's answer comes after them.
            yield _snapshot(engine, probe, run_id, rate, "")
            for fn in calls:
                fn(engine)
        changes = inbox.take()
        if changes:
            speed = float(changes.pop("speed", speed))
            freeze = {k[-1]: bool(changes.pop(k)) for k in ("freeze_d", "freeze_g") if k in changes}
            if freeze:
                engine.freeze(**freeze)
                if not changes and inbox.paused:
                    yield _snapshot(engine, probe, run_id, 0.0, "")  # show the new state
            if set(changes) & COLD_KEYS:
                try:
                    new = Engine(engine.config.replace(**changes))
                except ConfigError as exc:
                    yield _snapshot(engine, probe, run_id, rate, f"not applied: {exc}")
                    continue
                keys = ", ".join(sorted(set(changes) & COLD_KEYS))
                run_id += 1
                new.freeze(**{n: n in engine.frozen for n in ("d", "g")})
                engine = inbox.engine = new
                probe = Probe(engine) if measure else None
                good = engine.state()
                yield _snapshot(engine, probe, run_id, 0.0, f"restarted: {keys} changed")
                next_emit = time.perf_counter() + interval
                continue
            if changes:
                try:
                    engine.apply(changes)
                except ConfigError as exc:
                    message = f"not applied: {exc}"

        if inbox.paused:
            singles = inbox.take_steps()
            if singles:
                for kind in singles:
                    _single(engine, kind)
                # A single step is studied: always show its fields.
                snap, good = _checked(engine, probe, run_id, 0.0, message, good, inbox, force=True)
                yield snap
                next_emit = time.perf_counter() + interval
            else:
                if message:
                    yield _snapshot(engine, probe, run_id, rate, message)
                inbox.wait(0.05)
            continue

        if speed > 0:
            # Slow motion: one iteration per 1/speed seconds, each one shown.
            now = time.perf_counter()
            target_time = target_time or now
            if now < target_time:
                inbox.wait(min(target_time - now, 0.05))
                continue
            target_time += 1.0 / speed
        else:
            target_time = None

        t0 = time.perf_counter()
        while True:
            engine.train_step()
            steps_since += 1
            if speed > 0 or (max_steps is not None and engine.step >= max_steps):
                break
            if inbox.stopped or inbox.has_changes or inbox.paused:
                break
            t = time.perf_counter()
            # Training keeps at least half of each period, however slow the
            # snapshots are to measure and send.
            if t >= next_emit and t - t0 >= interval / 2:
                break
        now = time.perf_counter()
        trained += now - t0
        # A pause shows the step it stopped at.
        due = now >= next_emit
        if speed > 0 or message or inbox.paused or due:
            rate = steps_since / trained if trained > 0 else 0.0
            if due:
                # Snapshots are due on a fixed clock, so neither measuring and
                # sending them nor the step that overran the deadline stretches
                # the period; one that came late shifts the clock.
                next_emit = max(next_emit + interval, now)
            snap, good = _checked(engine, probe, run_id, rate, message, good, inbox)
            yield snap
            trained, steps_since = 0.0, 0
    # A final snapshot so the last step is always seen.
    yield _snapshot(engine, probe, run_id, rate, "stopped" if inbox.stopped else "finished")


def _single(engine, kind: str) -> None:
    """One requested step: a whole iteration, or one D or one G update alone."""
    if kind == "iteration":
        engine.train_step()
    elif kind == "d":
        engine.d_step()
    else:
        engine.g_step()


def _snapshot(engine, probe, run_id, rate, message, diverged=False, force=False) -> Snapshot:
    history = engine.drain()
    return build_snapshot(engine, probe, run_id, rate, history, message, diverged, force)


def _checked(engine, probe, run_id, rate, message, good, inbox, force=False):
    """A snapshot, and the weights to fall back on; on a non-finite loss restore and pause."""
    snap = _snapshot(engine, probe, run_id, rate, message, force=force)
    bad = _non_finite(snap)
    if not bad:
        return snap, engine.state()
    engine.load_state(good)
    inbox.pause()
    snap = _snapshot(
        engine, probe, run_id, 0.0,
        f"diverged: {bad} is not finite; paused and restored the weights of "
        "the last good snapshot. Lower the learning rate, then resume or reset.",
        diverged=True,
    )
    return snap, good


def _non_finite(snap: Snapshot) -> str:
    """Name of the first per-step quantity that is NaN or infinite, else ''."""
    for name, values in snap.history.items():
        if name != "step" and len(values) and not np.all(np.isfinite(values)):
            return name
    return ""
