"""The supervisor: the one place a run starts, restarts and stops.

It lives in the process that shows or drives the run (the window, a test, a
script) and needs neither torch nor Qt. It keeps what the user asked for
(config, paused, speed, frozen networks), hands every start and change to a
host through a :mod:`transport <ganviz.runner.transport>`, and turns what
comes back into a stream of fresh events: those of a run that has since
been replaced are dropped (``run_id`` is the one staleness token), and its
own status follows them (a divergence pauses, a finished run waits, a dead
training process is noticed and replaced on the next start).

Reading events is polling: :meth:`Supervisor.poll` (a window's timer) or
:meth:`Supervisor.wait` (a script, a test).
"""

from __future__ import annotations

import os
import queue
import time
from typing import Iterable

from ganviz.core.config import COLD_KEYS, Config, ConfigError, expand_lr
from ganviz.core.events import (
    Died, Diverged, Errored, Event, Finished, Notice, Ready, Started, StateReady,
)
from ganviz.core.loop import STEP_KINDS, Schedule

from .commands import Change, Pause, RequestSpectrum, RequestState, Resume, Start, Step

MODES = ("process", "thread")


def default_mode() -> str:
    """``GANVIZ_WORKER`` (process or thread) when set, else ``process``."""
    mode = os.environ.get("GANVIZ_WORKER", "process").strip().lower()
    return mode if mode in MODES else "process"


class Supervisor:
    """Starts, commands and stops runs of a config; the source of truth for their state.

    Parameters
    ----------
    config : Config
        The first run's config.
    mode : str, optional
        ``process`` (a child process; default, or ``GANVIZ_WORKER``) or ``thread``.
    max_steps : int, optional
        Each run ends by itself at this iteration.
    schedule : Schedule
        When runs hand out snapshots.
    """

    def __init__(self, config: Config, mode: str | None = None, *, max_steps: int | None = None,
                 schedule: Schedule = Schedule()) -> None:
        self.mode = mode or default_mode()
        if self.mode not in MODES:
            raise ValueError(f"unknown worker mode {self.mode!r}; accepted: {', '.join(MODES)}")
        self.config = config
        self.max_steps = max_steps
        self.schedule = schedule
        self.paused = False
        self.speed = 0.0
        self.frozen: set[str] = set()
        self.run_id = -1
        self.status = "idle"  # or running, finished, failed (an error), dead (the process)
        self.devices: tuple | None = None  # known once the host said Ready
        self.variants: tuple | None = None  # a comparison: (key, values); None: one run
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._finished = 0  # members of the current run that finished
        self._view = None  # the rectangle the window last showed (set_view)
        self._transport = None

    # --- lifecycle -----------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while a run can be commanded (not failed, not dead, not stopped)."""
        return self.status in ("running", "finished")

    def restart(self, config: Config | None = None, state: dict | None = None,
                reason: str = "reset", max_steps: int | None = None) -> int:
        """Start a new run (of ``config``, from an engine ``state``); returns its run id.

        The run obeys what the controls say (paused, speed, frozen); the
        current run, if any, ends; a dead training process is replaced.
        ``max_steps`` replaces the supervisor's for this and later runs.
        """
        if config is not None:
            self.config = config
        if max_steps is not None:
            self.max_steps = max_steps
        if self._transport is None or not self._transport.alive:
            self._open()
        self.run_id += 1
        self.status = "running"
        configs = states = ()
        if self.variants is not None:
            configs = tuple(c.to_dict() for c in self.member_configs())
            states, state = tuple((state or {}).get("members", ())), None
        self._finished = 0
        self._transport.send(Start(self.run_id, self.config.to_dict(), state, reason, self.paused,
                                   self.speed, tuple(sorted(self.frozen)), self.max_steps,
                                   configs, states))
        return self.run_id

    # --- a comparison ---------------------------------------------------------

    def member_configs(self, base: Config | None = None) -> list[Config]:
        """The comparison's configs: ``base`` (default: the config) with each compared value."""
        key, values = self.variants
        base = base or self.config
        return [base.replace(**{key: v}) for v in values]

    def compare(self, key: str | None, values=(), config: Config | None = None,
                state: dict | None = None, reason: str = "compare") -> int:
        """Start a comparison of ``key`` over ``values`` (None: back to one run); its run id.

        Every member is ``config`` (default: the config in force) with its
        value; ``state`` is a comparison's ({"members": [...]}) or a single run's.
        """
        if config is not None:
            self.config = config
        self.variants = None if key is None else (key, tuple(values))
        return self.restart(state=state, reason=reason)

    def _open(self) -> None:
        from .transport import ProcessTransport, ThreadTransport

        if self._transport is not None:
            self._transport.close(0.5)
        if self.mode == "process":
            try:
                self._transport = ProcessTransport(self._events.put, self.schedule)
                return
            except Exception as exc:  # e.g. no way to spawn here: train in a thread instead
                self._events.put(Notice(-1, f"could not start a training process ({exc}); "
                                            "training in a thread"))
                self.mode = "thread"
        self._transport = ThreadTransport(self._events.put, self.schedule)

    def stop(self, timeout: float = 2.0) -> bool:
        """End the run and its host; True when they ended in order within ``timeout``."""
        transport, self._transport = self._transport, None
        if self.status in ("running", "finished"):
            self.status = "idle"
        return True if transport is None else transport.close(timeout)

    # --- commands --------------------------------------------------------------

    def validate(self, changes: dict) -> Config:
        """The config ``changes`` would give; ConfigError for a bad value or an absent device."""
        changes = expand_lr(changes)
        new = self.config.replace(**changes)
        if self.variants is not None:
            key = self.variants[0]
            if key in changes and changes[key] != getattr(self.config, key):
                raise ConfigError(f"{key} is the compared key: each variant keeps its own value "
                                  "(leave compare mode to change it)")
            self.member_configs(new)  # every variant must stay valid
        if (new.device == "cuda" and self.devices is not None and "cuda" not in self.devices):
            raise ConfigError("device 'cuda' requested but the training process sees no CUDA "
                              "device; accepted: auto, cpu")
        return new

    def change(self, changes: dict) -> list[str]:
        """Apply config changes: hot keys at the next step, cold ones by a restart.

        Returns the cold keys that restarted the run (empty for a hot change).
        Raises ConfigError, changing nothing, for a bad value.
        """
        new = self.validate(changes)
        old = self.config
        diff = {k: getattr(new, k) for k in new.to_dict() if getattr(new, k) != getattr(old, k)}
        if not diff:
            return []
        self.config = new
        cold = sorted(set(diff) & COLD_KEYS)
        if self._transport is None:
            return cold
        if cold or not self.alive:
            self.restart(reason=f"{', '.join(cold)} changed" if cold else "reset")
        else:
            self._transport.send(Change(diff))
        return cold

    def pause(self) -> None:
        self.paused = True
        self._send(Pause())

    def resume(self) -> None:
        self.paused = False
        self._send(Resume())

    def step(self, n: int = 1, kind: str = "iteration") -> None:
        """Pause if needed, then ``n`` iterations (or single ``d`` / ``g`` updates)."""
        if kind not in STEP_KINDS:
            raise ValueError(f"unknown step kind {kind!r}; accepted: {', '.join(STEP_KINDS)}")
        if not self.paused:
            self.pause()
        self._send(Step(int(n), kind))

    def set_speed(self, speed: float) -> None:
        """Iterations per second at most (0: full speed)."""
        self.speed = float(speed)
        self._send(Change({"speed": self.speed}))

    def set_view(self, view) -> None:
        """The rectangle the window shows, ((x0, x1),) or ((x0, x1), (y0, y1)), data units:
        the run draws its fields over it from the next snapshot (the metrics never follow)."""
        self._view = tuple(tuple(float(v) for v in r) for r in view)
        if self._transport is not None and self.status in ("running", "finished"):
            # A finished run is drawn again over the new view by its host.
            self._transport.send(Change({"view": self._view}))

    def freeze(self, which: str, on: bool) -> None:
        """Freeze (``on``) or thaw D (``which`` = "d") or G ("g"): evaluated, never updated."""
        if which not in ("d", "g"):
            raise ValueError(f"freeze takes 'd' or 'g', got {which!r}")
        (self.frozen.add if on else self.frozen.discard)(which)
        self._send(Change({f"freeze_{which}": bool(on)}))

    def request_state(self, tag) -> bool:
        """Ask for the run's exact state; a :class:`StateReady` tagged ``tag`` brings it.

        False (nothing asked) when no host is running.
        """
        if self._transport is None:
            return False
        self._transport.send(RequestState(tag))
        return True

    def request_spectrum(self, tag, k: int = 16, batch: int | None = None,
                         member: int = 0) -> bool:
        """Ask for the eigenvalues of the run's field Jacobian now; a
        :class:`~ganviz.core.events.SpectrumReady` tagged ``tag`` brings them
        (computed beside training, not in its way). ``member``: the variant of a
        comparison whose field it is. False when no host is running.
        """
        if self._transport is None:
            return False
        self._transport.send(RequestSpectrum(tag, int(k), batch, int(member)))
        return True

    def _send(self, cmd) -> None:
        if self._transport is not None and self.status == "running":
            self._transport.send(cmd)

    # --- events --------------------------------------------------------------

    def poll(self) -> list[Event]:
        """The events that arrived since the last call, stale ones dropped."""
        fresh = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return fresh
            if self._take(event):
                fresh.append(event)

    def wait(self, timeout: float) -> list[Event]:
        """Like :meth:`poll`, but wait up to ``timeout`` seconds for the first fresh event."""
        deadline = time.monotonic() + timeout
        while True:
            fresh = self.poll()
            left = deadline - time.monotonic()
            if fresh or left <= 0:
                return fresh
            try:
                event = self._events.get(timeout=min(left, 0.05))
            except queue.Empty:
                continue
            if self._take(event):
                return [event, *self.poll()]

    def events(self, until=lambda event: False, timeout: float = 60.0) -> Iterable[Event]:
        """Yield fresh events until ``until(event)`` is true (that one included) or ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.wait(min(0.5, max(0.0, deadline - time.monotonic()))):
                yield event
                if until(event):
                    return
        raise TimeoutError(f"no event ended the wait within {timeout:g} s")

    def _take(self, event: Event) -> bool:
        """Update the status from ``event``; False for an event of a replaced run."""
        if isinstance(event, Ready):
            self.devices = tuple(event.devices)
            return True
        if isinstance(event, Died):
            if self.status == "running" or self.status == "finished":
                self.status = "dead"
                self._transport = None
            return True
        if isinstance(event, StateReady):
            return True  # it answers a request, whichever run it came from
        if 0 <= event.run_id < self.run_id:
            return False  # run_id -1: the host itself, whatever run is current
        if isinstance(event, Diverged):
            self.paused = True
        elif isinstance(event, Finished):
            # A comparison has finished when its last member has.
            self._finished += 1
            if self.variants is None or self._finished >= len(self.variants[1]):
                self.status = "finished"
                if self._view is not None and self._transport is not None:
                    # A view sent as the run ended may have reached it after its last
                    # snapshot: the host draws the ended run over the view once more.
                    self._transport.send(Change({"view": self._view}))
        elif isinstance(event, Errored):
            self.status = "failed"
        elif isinstance(event, Started):
            self.status = "running"
        return True
