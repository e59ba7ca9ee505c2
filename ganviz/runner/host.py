"""The host: trains one run after another in the thread that calls :meth:`Host.run`.

It lives where training happens (a child process, or a thread of the
window's process) and obeys the supervisor's :mod:`commands`; everything it
has to say leaves through ``emit`` as :mod:`ganviz.core.events`. A
:class:`~ganviz.runner.commands.Start` ends the current run and begins the
next; between runs the host still answers state requests with the engine the
last run left.
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable

import numpy as np

from ganviz.core.config import Config
from ganviz.core.events import Errored, Event, Ready, SpectrumReady, StateReady
from ganviz.core.loop import DivergencePolicy, Inbox, Schedule

from .commands import Change, Pause, Quit, RequestSpectrum, RequestState, Resume, Start, Step


#: Members of a comparison whose snapshots come as often as a single run's; more stretch
#: the period in proportion (8 members: every other round), so that snapshots never take
#: much more than a fifth of the training process's time.
ROUND_MEMBERS = 4


class Host:
    """Runs the runs the supervisor starts, handing events to ``emit``.

    Parameters
    ----------
    emit : callable
        Called with every :class:`~ganviz.core.events.Event`, from the
        thread running :meth:`run` (and, for a refused command, the caller's).
    schedule : Schedule
        When runs hand out snapshots.
    """

    def __init__(self, emit: Callable[[Event], None], schedule: Schedule = Schedule()) -> None:
        self._emit = emit
        self._schedule = schedule
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._inbox = Inbox()
        self._pending: Start | None = None
        self._quit = False
        self._run_id = -1
        self._engine = None  # the last run's engine, for state requests after it ended
        self._failed = ""  # why the last run has no sane state ("" when it has one)
        self._spectrum: threading.Thread | None = None  # the spectrum being computed, if any
        self._idle_probes = []  # measure the ended run for a window that changed its view

    def command(self, cmd) -> None:
        """Obey one command; safe from any thread."""
        with self._lock:
            inbox = self._inbox
            if isinstance(cmd, Start):
                # A fresh inbox at once, so that commands after the start reach the new run.
                self._pending = cmd
                self._inbox = Inbox()
                if cmd.paused:  # here, not when the run begins: a Resume right after must win
                    self._inbox.pause()
                inbox.stop()
            elif isinstance(cmd, Change):
                inbox.put(dict(cmd.changes))
            elif isinstance(cmd, Pause):
                inbox.pause()
            elif isinstance(cmd, Resume):
                inbox.resume()
            elif isinstance(cmd, Step):
                inbox.request_steps(int(cmd.n), cmd.kind)
            elif isinstance(cmd, RequestState):
                inbox.call(self._state_sender(cmd.tag))
            elif isinstance(cmd, RequestSpectrum):
                inbox.call(self._spectrum_starter(cmd))
            elif isinstance(cmd, Quit):
                self._quit = True
                inbox.stop()
            else:
                raise TypeError(f"unknown command {cmd!r}")
        self._wake.set()

    def run(self) -> None:
        """Train what the commands say until :class:`Quit`; blocks the calling thread."""
        from ganviz.core.trainer import available_devices

        self._emit(Ready(-1, available_devices()))
        while True:
            with self._lock:
                start, self._pending = self._pending, None
                inbox = self._inbox
            if self._quit:
                if self._spectrum is not None:  # it ends by itself; let it say so first
                    self._spectrum.join(30.0)
                return
            if start is not None:
                self._run(start, inbox)
            # The run ended (finished, failed, replaced or quit): wait for what comes next,
            # still answering state requests with the engine the run left.
            while not self._quit and self._pending is None:
                self._wake.wait(0.1)
                self._wake.clear()
                for fn in inbox.take_calls():
                    fn(self._engine)
                view = inbox.take().get("view")
                if view is not None:  # a finished run is still drawn over what the window shows
                    self._redraw(view)

    def _run(self, start: Start, inbox: Inbox) -> None:
        from ganviz.core.loop import train
        from ganviz.core.trainer import Engine

        self._run_id = start.run_id
        if start.configs:
            return self._run_comparison(start, inbox)
        try:
            config = Config.from_dict(start.config)
            self._engine, self._failed = None, "the run could not start"
            engine = Engine(config)
            if start.frozen:  # before the first snapshot, so that it shows them frozen
                engine.freeze(**{n: True for n in start.frozen})
            self._engine, self._failed = engine, ""
            for event in train(config, inbox, schedule=self._schedule, policy=DivergencePolicy(),
                               max_steps=start.max_steps, run_id=start.run_id, speed=start.speed,
                               state=start.state, reason=start.reason, engine=engine):
                self._emit(event)
        except Exception as exc:  # shown by the window; the host waits for the next start
            self._fail(start, exc, "the run")

    def _redraw(self, view) -> None:
        """Snapshots of the ended run's engine (each member's, for a comparison) with their
        fields over ``view`` (Probe.set_view)."""
        from ganviz.core.events import Snapshotted
        from ganviz.core.probe import Probe, build_snapshot

        engine = self._engine
        if engine is None or self._failed:
            return
        members = list(enumerate(engine.engines)) if hasattr(engine, "engines") else [(-1, engine)]
        if [p.engine for p in self._idle_probes] != [e for _, e in members]:
            # The run's fixed batches: the same points as its last pictures.
            self._idle_probes = [Probe(e) for _, e in members]
        for (i, e), probe in zip(members, self._idle_probes):
            probe.set_view(view)
            self._emit(Snapshotted(self._run_id, build_snapshot(
                e, probe, self._run_id, 0.0, e.drain(), force=True), member=i))

    def _run_comparison(self, start: Start, inbox: Inbox) -> None:
        """The members of a comparison in lockstep (:class:`~ganviz.runner.compare.Lockstep`)."""
        import dataclasses

        from .compare import Lockstep, build_engines

        try:
            configs = [Config.from_dict(c) for c in start.configs]
            self._engine, self._failed = None, "the comparison could not start"
            engines = build_engines(configs)
            for engine in engines:
                if start.frozen:
                    engine.freeze(**{n: True for n in start.frozen})
            schedule = self._schedule
            if schedule.seconds is not None:
                # A round's snapshots cost as many as its members (about 1.3 ms each at the
                # bench config): up to ROUND_MEMBERS a round keeps the single run's period,
                # which the window needs to draw every panel 30 times a second.
                schedule = dataclasses.replace(schedule, seconds=schedule.seconds * max(
                    1, len(configs) / ROUND_MEMBERS))
            lock = Lockstep(configs, engines, inbox, follow=schedule.seconds is not None,
                            states=list(start.states) or None, schedule=schedule,
                            policy=DivergencePolicy(), max_steps=start.max_steps,
                            run_id=start.run_id, speed=start.speed, reason=start.reason)
            self._engine, self._failed = lock, ""
            for member, event in lock.events():
                self._emit(dataclasses.replace(event, member=member))
        except Exception as exc:
            self._fail(start, exc, "the comparison")

    def _fail(self, start: Start, exc: Exception, what: str) -> None:
        """Report the run's exception (its last line, and the traceback); no sane state now."""
        self._failed = f"{what} stopped on an error, so its weights may not be sane"
        lines = [s for s in traceback.format_exception_only(exc)[-1].strip().splitlines() if s]
        self._emit(Errored(start.run_id, lines[-1] if lines else type(exc).__name__,
                           traceback.format_exc()))

    def _state_sender(self, tag):
        """A call for the loop: hand out its engine's exact state, or say why there is none."""

        def send(engine) -> None:
            reason = self._failed or ("" if engine is not None else "no run has started")
            state = None
            if not reason:
                state = engine.state(full=True)
                # A comparison's state: {"members": [...]}; each must be sane.
                parts = state.get("members", [state])
                if not all(np.all(np.isfinite(a)) for p in parts for net in ("G", "D")
                           for a in p[net].values()):
                    state, reason = None, "its weights are not finite"
            config = None
            if engine is not None:  # a comparison: {"configs": [...]}
                config = ({"configs": [e.config.to_dict() for e in engine.engines]}
                          if hasattr(engine, "engines") else engine.config.to_dict())
            step = engine.step if engine is not None else 0
            self._emit(StateReady(self._run_id, tag, config, step, state, reason))

        return send

    def _spectrum_starter(self, cmd: RequestSpectrum):
        """A call for the loop: copy the weights between two steps, then compute the
        spectrum in a thread of its own, so that training goes on meanwhile."""

        def start(engine) -> None:
            run_id = self._run_id
            if self._spectrum is not None and self._spectrum.is_alive():
                self._emit(SpectrumReady(run_id, cmd.tag, 0, reason="the last spectrum is "
                                         "still being computed"))
                return
            reason = self._failed or ("" if engine is not None else "no run has started")
            if reason:
                self._emit(SpectrumReady(run_id, cmd.tag, 0, reason=reason))
                return
            if hasattr(engine, "engines"):  # a comparison: the variant asked for
                if not 0 <= cmd.member < len(engine.engines):
                    self._emit(SpectrumReady(run_id, cmd.tag, 0, reason=f"no variant "
                                             f"{cmd.member}: the comparison has "
                                             f"{len(engine.engines)}"))
                    return
                engine = engine.engines[cmd.member]
            config, state, step = engine.config, engine.state(), engine.step

            def compute() -> None:
                from ganviz.core.spectrum import spectrum

                try:
                    result = spectrum(config, state, step, k=cmd.k, batch=cmd.batch)
                except Exception as exc:  # e.g. an option it does not model: say so
                    self._emit(SpectrumReady(run_id, cmd.tag, step, reason=str(exc)))
                    return
                if not np.all(np.isfinite(result.eigenvalues)):
                    self._emit(SpectrumReady(run_id, cmd.tag, step,
                                             reason="the weights give a non-finite field"))
                    return
                self._emit(SpectrumReady(run_id, cmd.tag, step, result.eigenvalues,
                                         result.consensus, result.method, result.n_params,
                                         result.batch, result.seconds))

            self._spectrum = threading.Thread(target=compute, name="ganviz-spectrum", daemon=True)
            self._spectrum.start()

        return start
