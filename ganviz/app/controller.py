"""The controller: what the window shows of a run, and the window's commands to it.

It lives in the GUI thread. The run itself belongs to a
:class:`~ganviz.runner.supervisor.Supervisor` (the only place a run starts,
restarts or stops, and the one record of what the user asked for: config,
paused, speed, frozen networks); the controller reads that state instead of
keeping a copy. It keeps what the views draw (the latest snapshot and the
metric history), turns the run's events into messages, and writes session
files. Edits from the controls are validated first, so a bad value gets one
clear message and never reaches the run.
"""

from __future__ import annotations

import sys
import time
from collections import deque

from PySide6.QtCore import QObject, Signal, Slot

from ganviz.core.config import SNAPSHOT_INTERVAL, Config, ConfigError
from ganviz.core.events import (
    SNAPSHOT_EVENTS, Died, Diverged, Errored, Finished, NotApplied, Notice, Paused,
    SpectrumReady, Started, StateReady,
)
from ganviz.core.history import History
from ganviz.core.loop import Schedule
from ganviz.core.presets import load_preset
from ganviz.qt.worker import Worker
from ganviz.runner.supervisor import Supervisor

INFO, WARN, ERROR = "info", "warn", "error"
#: Short names of settings in the time series' event labels.
_SHORT = {"lr_d": "lr D", "lr_g": "lr G", "batch_size": "batch", "gp_weight": "GP",
          "optimizer": "opt"}
#: Event labels of a run's start, by its reason (others: the reason itself, "data changed").
_START_LABELS = {"reset": "reset", "session": "session opened", "": ""}


def start_label(reason: str) -> str:
    """The time series' marker of a run that started for ``reason`` ("" for none)."""
    return _START_LABELS.get(reason, reason)


class Controller(QObject):
    """Commands the run and keeps what the views draw.

    Parameters
    ----------
    config : Config
        The first run.
    mode : str, optional
        Where training runs, ``process`` or ``thread`` (default: ``GANVIZ_WORKER`` or process).
    max_steps : int, optional
        Each run ends after this many iterations.
    interval : float
        Wall seconds between snapshots.
    """

    #: (level, text): something the user must see; level is info, warn or error.
    message = Signal(str, str)
    #: The config changed other than by the controls (preset, session, rejected edit).
    config_changed = Signal(object)
    #: Paused or running, alive or stopped: the buttons follow.
    state_changed = Signal()
    #: The first snapshot of a new run arrived (the views forget the old one).
    new_run = Signal(object)
    #: A run reached ``max_steps``: the :class:`~ganviz.core.events.Finished` event.
    finished = Signal(object)
    #: A session file was opened: (its preset name or "", frozen networks as "d"/"g" string).
    session_opened = Signal(str, str)
    #: The config in force after any change that took (controls, preset, session): the
    #: dynamics lab follows it.
    applied = Signal(object)
    #: A :class:`~ganviz.core.events.SpectrumReady` answering :meth:`request_spectrum`.
    spectrum = Signal(object)
    #: Compare mode began (the :class:`~ganviz.app.compare.Comparison`) or ended (None).
    comparison_changed = Signal(object)

    def __init__(self, config: Config, mode: str | None = None, *, max_steps: int | None = None,
                 interval: float = SNAPSHOT_INTERVAL, parent=None) -> None:
        super().__init__(parent)
        self.supervisor = Supervisor(config, mode, max_steps=max_steps,
                                     schedule=Schedule(seconds=interval))
        self.history = History()
        self.latest = None
        self.version = 0  # bumps with every snapshot drawn from
        self.preset = ""
        self.worker: Worker | None = None
        self.steps_per_s = 0.0
        self._rates: deque = deque()
        self._seed_history: tuple | None = None  # (run id, history columns) of an opened session
        self._initial: tuple | None = None  # a session opened before start: (state, reason, history)
        self.comparison = None  # compare mode: an app.compare.Comparison

    # --- the run's state, as the supervisor has it -------------------------------

    @property
    def config(self) -> Config:
        return self.supervisor.config

    @property
    def mode(self) -> str:
        return self.supervisor.mode

    @property
    def paused(self) -> bool:
        return self.supervisor.paused

    @property
    def dead(self) -> bool:
        """The run stopped on an error, or its process died."""
        return self.supervisor.status in ("failed", "dead")

    @property
    def done(self) -> bool:
        """The run reached its last step."""
        return self.supervisor.status == "finished"

    @property
    def frozen(self) -> set:
        return self.supervisor.frozen

    # --- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start collecting events and the first run."""
        if self.worker is not None:
            return
        self.worker = Worker(self.supervisor, self)
        self.worker.event.connect(self.on_event)
        self.worker.start()
        state, reason, history = self._initial or (None, "", None)
        self._initial = None
        self._restart(state, reason, history)

    def shutdown(self, timeout: float = 1.0) -> bool:
        """End the run and its host; True when they ended in order (never blocks for long)."""
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop()
            worker.event.disconnect(self.on_event)
        return self.supervisor.stop(timeout)

    def _restart(self, state=None, reason: str = "reset", history=None) -> None:
        """A new run of the config in force (from an engine ``state``, with a session's ``history``)."""
        run_id = self.supervisor.restart(state=state, reason=reason)
        # Events are read on this thread, so the run's Started cannot come before this.
        self._seed_history = (run_id, history) if history else None
        self.state_changed.emit()

    # --- events ----------------------------------------------------------------

    @Slot(object)
    def on_event(self, event) -> None:
        """One fresh event of the run: keep its snapshot, say what it means."""
        if event.member >= 0:
            return self._on_member_event(event)
        if isinstance(event, SNAPSHOT_EVENTS):
            self._keep(event)
        if isinstance(event, Started):
            if event.reason.endswith("changed"):
                self.message.emit(INFO, f"Run restarted ({event.reason}).")
        elif isinstance(event, NotApplied):
            self.message.emit(WARN, f"Not applied: {event.reason}")
            self.config_changed.emit(self.config)
        elif isinstance(event, Diverged):
            self.message.emit(ERROR, event.text)
            self.state_changed.emit()
        elif isinstance(event, Paused):
            self.state_changed.emit()
        elif isinstance(event, Finished):
            self.message.emit(INFO, f"Finished {event.snapshot.step:,} iterations. "
                                    "Press Play or Reset to train again.")
            self.state_changed.emit()
            self.finished.emit(event)
        elif isinstance(event, Errored):
            print(event.detail or event.text, file=sys.stderr)
            self.message.emit(ERROR, f"Training stopped by an error: {event.text}. "
                                     "Change a setting or press Reset to start again.")
            self.state_changed.emit()
        elif isinstance(event, Died):
            code = "" if event.exitcode is None else f" (exit code {event.exitcode})"
            self.message.emit(ERROR, f"The training process ended unexpectedly{code}. "
                                     "Press Reset or Play to start a new one.")
            self.state_changed.emit()
        elif isinstance(event, Notice):
            self.message.emit(INFO, event.text[0].upper() + event.text[1:])
        elif isinstance(event, StateReady):
            self._write_session(event)
        elif isinstance(event, SpectrumReady):
            self.spectrum.emit(event)

    def request_spectrum(self, tag, k: int = 16, member: int = 0) -> bool:
        """Ask the run (a comparison: its variant ``member``) for its field's spectrum
        (``spectrum`` brings it); False with no run."""
        return self.worker is not None and self.supervisor.request_spectrum(tag, k,
                                                                            member=member)

    def _keep(self, event) -> None:
        snap = event.snapshot
        if isinstance(event, Started):
            self._rates.clear()
            self.history.clear()
            self.history.run_id = snap.run_id
            if self._seed_history is not None and self._seed_history[0] == snap.run_id:
                self.history.load(*self._seed_history[1], run_id=snap.run_id)
            self._seed_history = None
            self.new_run.emit(snap)
            label = start_label(event.reason)
            if label:
                self.history.mark(snap.step, label)
        elif snap.run_id != self.history.run_id:
            return  # a late event of the run before the one that started
        self.history.add(snap)
        self.latest = snap
        self.version += 1
        self._rate(snap.step)

    # --- sessions ------------------------------------------------------------

    def save_session(self, path) -> None:
        """Write a session file (config, exact state, history) of the run's next step.

        The run hands out its state between two steps, after the snapshots of
        every step before it, so weights and history agree; ``message`` says
        when the file is written or why not.
        """
        from ganviz.core.files import check_writable

        try:
            check_writable(path)
        except OSError as exc:
            self.message.emit(ERROR, f"Session not saved: {exc}")
            return
        if not self.supervisor.request_state(("comparison" if self.comparison else "run", str(path))):
            self.message.emit(WARN, "Nothing to save: no run is going.")

    def _write_session(self, event: StateReady) -> None:
        from ganviz.core.session import Session, save_session

        kind, path = event.tag
        if kind == "comparison":
            from ganviz.app.compare import write_session

            return write_session(self, event, path)
        if event.state is None:
            self.message.emit(ERROR, f"Session not saved: {event.reason}.")
            return
        steps, measured = self.history.columns()
        keep, keep_m = steps["step"] <= event.step, measured["step"] <= event.step
        try:
            save_session(path, Session(
                Config.from_dict(event.config), step=event.step, state=event.state,
                preset=self.preset, history={k: v[keep] for k, v in steps.items()},
                measured={k: v[keep_m] for k, v in measured.items()}))
        except OSError as exc:
            self.message.emit(ERROR, f"Session not saved: could not write {path} "
                                     f"({exc.strerror or exc}).")
            return
        self.message.emit(INFO, f"Session saved to {path} (step {event.step:,}).")

    def open_session(self, path) -> bool:
        """Open a session file: its config, state and history replace the run.

        A file that cannot be read, or whose state does not fit its config,
        gives one message and leaves the run as it was.
        """
        from ganviz.core.session import SessionError, load_session

        try:
            session = load_session(path)
        except SessionError as exc:
            self.message.emit(ERROR, f"Could not open the session: {exc}")
            return False
        self.open(session, path)
        return True

    def open(self, session, path) -> None:
        """Replace the run by a session already read (``path`` names it in the message)."""
        if session.comparison is not None:
            from ganviz.app.compare import open_session

            return open_session(self, session, path)
        self._end_comparison()  # a single run's session leaves compare mode
        self.supervisor.config = session.config
        self.preset = session.preset
        self.supervisor.frozen = set((session.state or {}).get("frozen", ()))
        self.config_changed.emit(self.config)
        self.applied.emit(self.config)
        self.session_opened.emit(self.preset, "".join(sorted(self.frozen)))
        history = (session.history, session.measured) if session.history else None
        if self.worker is None:
            self._initial = (session.state, "session", history)
        else:
            self._restart(session.state, "session", history)
        self.message.emit(INFO, f"Opened session {path} at step {session.step:,}.")

    # --- commands from the controls ---------------------------------------

    @Slot(str, bool)
    def set_freeze(self, which: str, on: bool) -> None:
        """Freeze (``on``) or thaw D (``which`` = "d") or G ("g"): evaluated, not updated."""
        self.supervisor.freeze(which, on)
        self._mark(f"{'freeze' if on else 'thaw'} {which.upper()}")

    @Slot(dict)
    def set_params(self, changes: dict) -> bool:
        """Validate and apply config changes; hot ones at the next step, cold ones restart."""
        try:
            cold = self.supervisor.change(changes)
        except ConfigError as exc:
            self.message.emit(WARN, f"Not applied: {exc}")
            self.config_changed.emit(self.config)  # the controls show the value in force
            return False
        if cold and self.worker is not None:
            self.message.emit(INFO, f"Restarting the run: {', '.join(cold)} changed "
                                    "(a model or data setting needs a fresh run).")
            self.state_changed.emit()
        elif not cold:
            self._mark(", ".join(f"{_SHORT.get(k, k)} {getattr(self.config, k)}"
                                 for k in changes if hasattr(self.config, k)))
        self.applied.emit(self.config)
        return True

    def _mark(self, label: str) -> None:
        """Record ``label`` at the latest step drawn (the time series' event markers)."""
        if self.comparison is not None:  # every variant's series
            snap = self.comparison.latest[0]
            if label and snap is not None:
                self.comparison.mark(snap.step, label)
            return
        if label and self.latest is not None and self.latest.run_id == self.history.run_id:
            self.history.mark(self.latest.step, label)

    @Slot(object)
    def set_view(self, view) -> None:
        """The data view's visible rectangle: the run draws D, p_g and D* over it."""
        self.supervisor.set_view(view)

    @Slot(float)
    def set_speed(self, speed: float) -> None:
        """Iterations per second at most (0: full speed); slow motion for a lecture."""
        self.supervisor.set_speed(speed)

    @Slot()
    def play(self) -> None:
        """Train on; a run that finished, failed or died starts afresh."""
        self.supervisor.resume()
        if self.worker is not None and (self.dead or self.done):
            self._restart()
        self.state_changed.emit()

    @Slot()
    def pause(self) -> None:
        self.supervisor.pause()
        self.state_changed.emit()

    @Slot()
    def toggle(self) -> None:
        """Play when paused, pause when playing."""
        self.play() if self.paused or self.dead or self.done else self.pause()

    @Slot()
    def step(self, n: int = 1, kind: str = "iteration") -> None:
        """Pause if needed and train ``n`` iterations (or single ``d`` / ``g`` updates)."""
        if self.worker is None or self.dead or self.done:
            return
        was_paused = self.paused
        self.supervisor.step(n, kind)
        if not was_paused:
            self.state_changed.emit()

    @Slot()
    def step_d(self) -> None:
        """One update of D alone: watch D(x) move towards D*(x)."""
        self.step(1, "d")

    @Slot()
    def step_g(self) -> None:
        """One update of G alone: watch the fake samples follow the arrows."""
        self.step(1, "g")

    @Slot()
    def reset(self) -> None:
        """Restart with the current config (the user's edits are kept)."""
        if self.worker is not None:
            self._restart()

    @Slot(str)
    def load_preset(self, name: str):
        """Load a preset's config and start it; returns the Preset (None on error)."""
        try:
            preset = load_preset(name)
        except ConfigError as exc:
            self.message.emit(WARN, str(exc))
            return None
        self.supervisor.config = preset.config
        self.preset = name
        self.config_changed.emit(self.config)
        self.applied.emit(self.config)
        if preset.compare is not None:  # a comparison preset trains its variants
            self.compare(preset.compare)
        elif self.comparison is not None:
            self.leave_compare()
        else:
            self.reset()
        self.message.emit(INFO, f"Preset: {preset.title}")
        return preset

    def open_config(self, config: Config, preset: str = "", note: str = "",
                    compare: str | None = None) -> None:
        """Replace the run by a fresh run of ``config``, as a preset with ``--set`` changes.

        ``preset`` names where it came from ("Modified from"), ``note`` is the
        message shown (a sweep's cell: which config and seed). With ``compare``
        (``KEY=V1,V2,...``, e.g. a cell's seeds) the variants of ``config``
        train as a comparison instead.
        """
        self._end_comparison()
        self.supervisor.config = config
        self.preset = preset
        self.supervisor.frozen = set()
        self.config_changed.emit(self.config)
        self.session_opened.emit(preset, "")
        if compare is None or not self.compare(compare):  # a refused one: the one run
            self.reset()
        self.message.emit(INFO, note or "Opened a config.")

    # --- speed -------------------------------------------------------------

    def _rate(self, step: int) -> None:
        now = time.monotonic()
        q = self._rates
        q.append((now, step))
        while len(q) > 2 and now - q[0][0] > 2.0:
            q.popleft()
        if len(q) >= 2 and q[-1][0] - q[0][0] > 0.25:
            self.steps_per_s = max(0.0, (q[-1][1] - q[0][1]) / (q[-1][0] - q[0][0]))

    # --- compare mode (the logic is app.compare's) ----------------------------------

    def compare(self, text_or_comparison) -> bool:
        """Compare variants of the current scenario: ``KEY=V1,V2,...`` or a Comparison.

        A bad entry is one message and changes nothing.
        """
        from ganviz.app import compare

        return compare.start(self, text_or_comparison)

    def leave_compare(self) -> None:
        """Back to one run of the current scenario."""
        from ganviz.app import compare

        compare.leave(self)

    def _end_comparison(self) -> None:
        """Leave compare mode without a restart (the caller starts what comes next)."""
        if self.comparison is not None:
            self.comparison = self.supervisor.variants = None
            self.comparison_changed.emit(None)

    def _on_member_event(self, event) -> None:
        from ganviz.app import compare

        compare.on_member_event(self, event)
