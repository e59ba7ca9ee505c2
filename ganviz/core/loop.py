"""THE training loop: one generator that trains a run, obeys an inbox and yields events.

Every way ganviz trains goes through :func:`train`: the window (in a thread
or a child process, through the runner), the command line's headless runs,
the benchmark. What differs between them is a :class:`Schedule` (when to hand
out a snapshot: every T seconds of wall time, or every N iterations, and how
much to measure) and a :class:`DivergencePolicy` (pause on sane weights, or
stop). The numbers do not differ: one intra-op thread, the same random
stream, and measurements that never touch the training stream.

Between steps the loop checks stop and pause, applies parameter changes and
runs queued calls; training itself runs in chunks between two snapshots.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .config import COLD_KEYS, SNAPSHOT_INTERVAL, Config, ConfigError
from .events import (
    Diverged, Event, Finished, NotApplied, Paused, Resumed, Snapshotted, Started, Stopped,
)
from .snapshot import Snapshot

#: What a single step request can ask for.
STEP_KINDS = ("iteration", "d", "g")
#: Per-iteration quantities of the D step, in the order an iteration computes them.
_D_SIDE = ("loss_d", "grad_norm_d", "d_real", "d_fake")


@dataclass(frozen=True)
class Schedule:
    """When the loop hands out a snapshot, and what it measures for it.

    Parameters
    ----------
    seconds : float, optional
        Wall seconds between snapshots (the window: about 32 a second).
    steps : int, optional
        Iterations between snapshots (headless runs: the same rows whatever
        the machine's speed). Exactly one of ``seconds`` and ``steps``.
    measure : str
        ``"budget"``: the heavy measurements (grids, divergences, modes) take
        at most a fixed share of the time, the rest of the snapshots reuse
        them; ``"always"``: every snapshot is measured; ``"off"``: per-step
        scalars only. The first and the last snapshot are always measured
        unless ``"off"``.
    """

    seconds: float | None = SNAPSHOT_INTERVAL
    steps: int | None = None
    measure: str = "budget"

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.steps is None):
            raise ValueError("a schedule is every `seconds` or every `steps`, not both")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"a schedule needs steps >= 1, got {self.steps}")
        if self.measure not in ("budget", "always", "off"):
            raise ValueError(f"measure must be budget, always or off, got {self.measure!r}")

    @classmethod
    def every_steps(cls, n: int, measure: str = "always") -> "Schedule":
        return cls(seconds=None, steps=int(n), measure=measure)


@dataclass(frozen=True)
class DivergencePolicy:
    """What the loop does when a loss or gradient norm becomes non-finite.

    ``on_divergence``: ``"pause"`` restores the last weights known to be sane
    and waits (the window: lower a rate, then resume); ``"stop"`` ends the run
    (headless). ``growth``: a chunk of iterations whose largest loss or
    gradient norm exceeds ``growth`` times the run's typical value is not
    sane, even while finite: weights that are about to blow up are never the
    ones restored.
    """

    on_divergence: str = "pause"
    growth: float = 100.0


class Inbox:
    """Thread-safe mailbox from the runner (or a test) to a running loop.

    Parameter changes are merged (the latest value of each key wins) and
    drained by the loop between steps. ``speed`` (iterations per second, 0
    for full speed) and ``freeze_d`` / ``freeze_g`` (bool) are loop
    parameters that ride along with the config keys. Calls (:meth:`call`) run
    in the loop's thread between steps, with the engine: a consistent moment
    to read its state.
    """

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
    def busy(self) -> bool:
        """True when changes, calls, a pause or a stop wait (unlocked peek, every step)."""
        return self.pending or self._paused or self._stop.is_set()

    @property
    def pending(self) -> bool:
        """True when changes or calls wait to be taken (unlocked peek)."""
        return bool(self._changes) or bool(self._calls)

    @property
    def stepping(self) -> bool:
        """True when single steps wait to be taken (unlocked peek)."""
        return bool(self._steps)

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


class _Guard:
    """Keeps weights known to be sane, to go back to when the run diverges.

    A chunk of iterations is sane when every per-step scalar is finite and
    its largest loss and gradient norm stay within ``growth`` times the
    median of the recent sane chunks. The weights at the end of a sane chunk
    become the fallback only once the next chunk, trained from them, is sane
    too: an update can blow the weights up after the last scalars it
    produced looked normal.
    """

    _SCALE = ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g")

    def __init__(self, engine, growth: float) -> None:
        self.growth = growth
        self.good = self._weights(engine)
        self.candidate = None
        self._recent: deque = deque(maxlen=32)
        self._rejected = 0

    @staticmethod
    def _weights(engine) -> dict:
        state = engine.state(full=True)
        return {k: state[k] for k in ("G", "D", "optim", "counters") if k in state}

    def check(self, engine, history: dict) -> None:
        """Judge the chunk in ``history`` (all finite) and move the fallback on."""
        if not len(history["step"]):
            return
        size = np.array([np.max(np.abs(history[k])) for k in self._SCALE])
        typical = np.median(np.array(self._recent), axis=0) if self._recent else None
        sane = typical is None or np.all(size <= self.growth * np.maximum(typical, 1e-6))
        if not sane:
            self._rejected += 1
            self.candidate = None
            if self._rejected < 64:
                return
            self._recent.clear()  # a lasting new scale is the run's, not a blow-up
        self._rejected = 0
        self._recent.append(size)
        if self.candidate is not None:
            self.good = self.candidate
        self.candidate = self._weights(engine)

    def restore(self, engine) -> int:
        """Put the sane weights back (the step counters and random stream go on); their step."""
        counters = self.good.get("counters", {})
        keep = {"step": engine.step, "d_updates": engine.d_updates, "g_updates": engine.g_updates}
        engine.load_state({**self.good, "counters": keep})
        self.candidate = None
        return int(counters.get("step", 0))


def likely_cause(config: Config, quantity: str, steps_since_load: int | None) -> str:
    """A sentence on why a run diverged: the loaded weights, gp_weight or a learning rate."""
    if steps_since_load is not None and steps_since_load <= 10:
        return "the weights the session loaded (reset for fresh ones)"
    if config.loss == "wgan-gp" and config.gp_weight > 100:
        return f"gp_weight = {config.gp_weight:g} (10 is usual): lower it"
    side, lr = ("D", config.lr_d) if quantity in _D_SIDE else ("G", config.lr_g)
    key = "lr_d" if side == "D" else "lr_g"
    return f"{key} = {lr:g} is too high for {config.optimizer} ({side}'s updates): lower it"


def train(
    config: Config,
    inbox: Inbox | None = None,
    *,
    schedule: Schedule = Schedule(),
    policy: DivergencePolicy = DivergencePolicy(),
    max_steps: int | None = None,
    run_id: int = 0,
    speed: float = 0.0,
    state: dict | None = None,
    reason: str = "",
    engine=None,
    until=None,
) -> Iterator[Event]:
    """Train ``config`` and yield what happens, as events.

    Parameters
    ----------
    config : Config
        The run.
    inbox : Inbox, optional
        Pause, stop, single steps, parameter changes and calls from another thread.
    schedule : Schedule
        When to hand out snapshots and what to measure for them.
    policy : DivergencePolicy
        Pause on sane weights, or stop, when the run diverges.
    max_steps : int, optional
        End after this many iterations (counted from 0, also for a resumed state).
    run_id : int
        Stamped on every event and snapshot.
    speed : float
        Iterations per second at most; 0 for as fast as possible.
    state : dict, optional
        An engine state to start from (a session's), loaded into the engine.
    reason : str
        Why this run began, carried by its :class:`Started` event.
    engine : Engine, optional
        A ready engine of ``config`` to train (the caller keeps a handle on it).
    until : callable, optional
        For a follower in a comparison's lockstep (:mod:`ganviz.runner.compare`):
        returns the step the leader reached; each chunk trains up to it, then
        yields, whatever the schedule's clock and the speed say.

    Yields
    ------
    Event
        :class:`Started` first (the picture before training), then
        :class:`Snapshotted` on the schedule and after each single step,
        :class:`NotApplied` for a refused change, :class:`Paused` /
        :class:`Resumed`, :class:`Diverged`, and last :class:`Finished`
        (``max_steps`` reached, with the final metrics) or :class:`Stopped`.
        A cold key (data, model size, seed, device) is refused with
        :class:`NotApplied`: a new run is the runner's to start.
    """
    from .probe import Probe
    from .trainer import Engine, set_threads

    set_threads()  # one policy for every run: the numbers must not depend on it
    inbox = inbox or Inbox()
    if engine is None:
        engine = Engine(config)
    if state is not None:
        engine.load_state(state)
    loaded_at = engine.step if state is not None else None
    probe = Probe(engine) if schedule.measure != "off" else None
    run = _Run(engine, probe, run_id, schedule)
    guard = _Guard(engine, policy.growth)
    yield Started(run_id, run.snapshot(force=True), reason)

    timed = schedule.seconds is not None and until is None
    each = engine.device.type == "cpu"  # a per-iteration check costs a sync on CUDA
    next_emit = time.perf_counter() + (schedule.seconds or 0.0)
    target_time = None  # for speed-limited running
    was_paused = False  # a run started paused says so after its first picture

    while not inbox.stopped and (max_steps is None or engine.step < max_steps):
        calls = inbox.take_calls()
        if calls:
            # Hand out the steps not yet shown first: a call's answer comes after them.
            if engine.step != run.shown_step:
                event = _checked(run, guard, policy, inbox, loaded_at)
                yield event
                if isinstance(event, Diverged) and policy.on_divergence == "stop":
                    return
            for fn in calls:
                fn(engine)
        changes = inbox.take()
        if changes:
            speed = float(changes.pop("speed", speed))
            view = changes.pop("view", False)  # the window's visible rectangle (Probe.set_view)
            if view is not False and probe is not None:
                probe.set_view(view)
            freeze = {k[-1]: bool(changes.pop(k)) for k in ("freeze_d", "freeze_g") if k in changes}
            if freeze:
                engine.freeze(**freeze)
            refused = ""
            cold = sorted(set(changes) & COLD_KEYS)
            if cold:
                refused = f"{', '.join(cold)} cannot change during a run; it needs a restart"
            elif changes:
                try:
                    engine.apply(changes)
                except ConfigError as exc:
                    refused = str(exc)
            if refused:
                yield NotApplied(run_id, run.snapshot(), refused)
            elif (freeze or view is not False) and inbox.paused:
                yield Snapshotted(run_id, run.snapshot())  # show the new state

        if inbox.paused:
            if not was_paused:
                was_paused = True
                yield Paused(run_id, run.snapshot(force=True))
                continue  # what arrived meanwhile applies before any single step
            if inbox.pending:
                continue  # a change sent before a step request applies first
            singles = inbox.take_steps()
            if singles:
                for kind in singles:
                    _single(engine, kind)
                # A single step is studied: always show its fields.
                event = _checked(run, guard, policy, inbox, loaded_at, force=True)
                yield event
                if isinstance(event, Diverged) and policy.on_divergence == "stop":
                    return
            else:
                inbox.wait(0.05)
            continue
        if was_paused:
            was_paused = False
            yield Resumed(run_id)

        if speed > 0 and until is None:  # a follower keeps its leader's pace
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
        n = 0
        chunk_end = None
        if until is not None:
            chunk_end = until()
            if engine.step >= chunk_end:  # the leader did not train: show where it stands
                yield Snapshotted(run_id, run.snapshot())
                continue
        elif not timed:
            every = schedule.steps
            chunk_end = engine.step + every - engine.step % every
        if max_steps is not None:
            chunk_end = max_steps if chunk_end is None else min(chunk_end, max_steps)
        while True:
            engine.train_step()
            n += 1
            if (speed > 0 and until is None) or engine.step == chunk_end or inbox.busy:
                break
            if each and not engine.last_finite():
                break  # diverged: stop at this iteration, not at the end of the chunk
            if timed:
                t = time.perf_counter()
                # Training keeps at least half of each period, however slow the
                # snapshots are to measure and send.
                if t >= next_emit and t - t0 >= schedule.seconds / 2:
                    break
        now = time.perf_counter()
        run.trained(n, now - t0)
        if timed:
            due = now >= next_emit
            if not (due or speed > 0 or inbox.paused or (each and not engine.last_finite())):
                continue
            if due:
                # Snapshots are due on a fixed clock, so neither measuring and
                # sending them nor the step that overran the deadline stretches
                # the period; one that came late shifts the clock.
                next_emit = max(next_emit + schedule.seconds, now)
        elif engine.step != chunk_end and not inbox.paused and (not each or engine.last_finite()):
            continue
        event = _checked(run, guard, policy, inbox, loaded_at)
        yield event
        if isinstance(event, Diverged) and policy.on_divergence == "stop":
            return

    if inbox.stopped:
        yield Stopped(run_id, run.snapshot())
    else:
        snap = run.snapshot(force=True)
        yield Finished(run_id, snap, final_metrics(engine, probe, snap))


class _Run:
    """The run as the loop sees it: engine, probe, token and the pace of training."""

    def __init__(self, engine, probe, run_id: int, schedule: Schedule) -> None:
        self.engine, self.probe, self.run_id = engine, probe, run_id
        self.always = schedule.measure == "always"
        self.rate = 0.0
        self.shown_step = -1
        self.latest: dict = {}  # the last per-step values, for snapshots between iterations
        self._steps, self._seconds = 0, 0.0

    def trained(self, n: int, seconds: float) -> None:
        self._steps += n
        self._seconds += seconds

    def snapshot(self, history: dict | None = None, force: bool = False) -> Snapshot:
        """A snapshot of the engine now, with ``history`` (default: drained now)."""
        from .probe import build_snapshot

        if self._seconds > 0:
            self.rate = self._steps / self._seconds
            self._steps, self._seconds = 0, 0.0
        if history is None:
            history = self.engine.drain()
        self.shown_step = self.engine.step
        snap = build_snapshot(self.engine, self.probe, self.run_id, self.rate, history,
                              force=force or self.always, latest=self.latest)
        self.latest = {k: v for k, v in snap.metrics.items() if k in history and k != "step"}
        return snap


def _single(engine, kind: str) -> None:
    """One requested step: a whole iteration, or one D or one G update alone."""
    if kind == "iteration":
        engine.train_step()
    elif kind == "d":
        engine.d_step()
    else:
        engine.g_step()


def _checked(run: _Run, guard: _Guard, policy: DivergencePolicy, inbox: Inbox,
             loaded_at: int | None, force: bool = False) -> Event:
    """The next snapshot event; on a non-finite scalar, :class:`Diverged` after the policy."""
    engine = run.engine
    history = engine.drain()
    bad_row, quantity = _first_non_finite(history)
    if bad_row is None:
        guard.check(engine, history)
        return Snapshotted(run.run_id, run.snapshot(history, force=force))
    # Keep the rows up to the first non-finite one: nothing past it is a result.
    history = {k: v[: bad_row + 1] for k, v in history.items()}
    step = int(history["step"][-1])
    since = None if loaded_at is None else step - loaded_at
    cause = likely_cause(engine.config, quantity, since)
    restored = guard.restore(engine)
    if policy.on_divergence == "pause":
        inbox.pause()
    return Diverged(run.run_id, run.snapshot(history, force=True), step, quantity, cause, restored)


def _first_non_finite(history: dict) -> tuple[int | None, str]:
    """(row, name) of the first non-finite per-step scalar, D's before G's; (None, "")."""
    names = [k for k in _D_SIDE + ("loss_g", "grad_norm_g") if k in history]
    if not names or not len(history[names[0]]):
        return None, ""
    table = np.stack([history[k] for k in names], axis=1)
    finite = np.isfinite(table)
    if finite.all():
        return None, ""
    row = int(np.argmin(finite.all(axis=1)))
    return row, names[int(np.argmin(finite[row]))]


def final_metrics(engine, probe, snap: Snapshot) -> dict:
    """The final metrics object a finished run reports (headless prints it as JSON).

    Every metric name at the last step (None where not applicable), then
    ``g_mean`` and ``g_std`` (per axis, of the probe's 10^4 generated
    samples), ``device`` and ``config``.
    """
    from .config import METRIC_NAMES
    from .history import EXTRA_NAMES

    out = {name: None for name in METRIC_NAMES + EXTRA_NAMES}
    out.update({k: v for k, v in snap.metrics.items() if k in out})
    out["step"] = engine.step
    if probe is not None:
        fake = probe.generated()
        out["g_mean"] = fake.mean(0).tolist()
        out["g_std"] = fake.std(0, ddof=1).tolist()
        if out.get("kl") is None and probe.kl_reason:
            out["kl_reason"] = probe.kl_reason  # why KL is withheld
    out["device"] = str(engine.device)
    out["config"] = engine.config.to_dict()
    return out
