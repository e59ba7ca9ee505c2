"""The controller: owns the worker's lifecycle, the run's config, its histories and latest snapshot.

It lives in the GUI thread. The worker's signals reach its ``@Slot`` methods
(queued across threads); the draw timer of the window reads :attr:`latest`
and :attr:`history` and draws. Edits from the controls are validated here
first, so a bad value gets one clear message and never reaches the run.
"""

from __future__ import annotations

import sys
import time
from collections import deque

from PySide6.QtCore import QObject, Signal, Slot

from ganviz.core.config import COLD_KEYS, SNAPSHOT_INTERVAL, Config, ConfigError, expand_lr
from ganviz.core.presets import load_preset
from ganviz.qt.worker import Worker
from ganviz.views.history import History

INFO, WARN, ERROR = "info", "warn", "error"


class Controller(QObject):
    """Starts, commands and stops the training worker; keeps what the views draw.

    Parameters
    ----------
    config : Config
        The first run.
    mode : str, optional
        Worker mode, ``process`` or ``thread`` (default: ``GANVIZ_WORKER`` or process).
    max_steps : int, optional
        Each run ends after this many iterations.
    measure : bool
        Ask the loop for the heavy measurements (grids, divergences).
    """

    #: (level, text): something the user must see; level is info, warn or error.
    message = Signal(str, str)
    #: The controller's config changed other than by the controls (preset, rejected edit).
    config_changed = Signal(object)
    #: Paused or running, alive or stopped by an error: the buttons follow.
    state_changed = Signal()
    #: A snapshot of a new run arrived (the views forget the old one).
    new_run = Signal(object)
    #: A run reached ``max_steps``.
    finished = Signal(object)
    #: A session file was opened: (its preset name or "", frozen networks as "d"/"g" string).
    session_opened = Signal(str, str)

    def __init__(self, config: Config, mode: str | None = None, *, max_steps: int | None = None,
                 measure: bool = True, interval: float = SNAPSHOT_INTERVAL, parent=None) -> None:
        super().__init__(parent)
        self.config = config
        self.mode = mode
        self.max_steps = max_steps
        self.measure = measure
        self.interval = interval
        self.history = History()
        self.latest = None
        self.version = 0  # bumps with every accepted snapshot
        self.run_id = -1
        self.paused = False
        self.dead = False  # the run stopped on an error
        self.done = False  # the run reached max_steps
        self.speed = 0.0
        self.frozen: set[str] = set()
        self.preset = ""
        self._seed_history = None  # a session's history, for its run's first snapshot
        self._initial_state = None  # a session opened before the worker started
        self.snapshots = 0
        self._rates: deque = deque()
        self.steps_per_s = 0.0
        self.worker: Worker | None = None

    # --- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start the worker on the current config."""
        if self.worker is not None:
            return
        self.worker = Worker(self.config.to_dict(), self.mode, max_steps=self.max_steps,
                             measure=self.measure, interval=self.interval, speed=self.speed,
                             paused=self.paused)
        self.mode = self.worker.mode
        self.worker.snapshot.connect(self.on_snapshot)
        self.worker.failed.connect(self.on_failed)
        self.worker.notice.connect(self.on_notice)
        self.worker.state_ready.connect(self.on_state_ready)
        self.worker.start()
        if self._initial_state is not None:  # the session reads it before its first run
            self._restart(self._initial_state)
            self._initial_state = None
        elif self.frozen:
            self._send_frozen()

    def shutdown(self, timeout: float = 1.0) -> bool:
        """Stop the run and wait for the worker (thread and process); True when it ended."""
        worker, self.worker = self.worker, None
        if worker is None:
            return True
        ok = worker.stop(timeout)
        if not ok:  # never terminate() a QThread: wait a little longer instead
            ok = worker.wait(2000)
        if ok:
            for signal in (worker.snapshot, worker.failed, worker.notice, worker.state_ready):
                try:
                    signal.disconnect()
                except (RuntimeError, TypeError):
                    pass
        return ok

    # --- slots for the worker ---------------------------------------------

    @Slot(object)
    def on_snapshot(self, snap) -> None:
        """Keep a snapshot of the current run (drop stale ones), grow the histories."""
        if self.worker is None or snap.run_id < self.run_id:
            return
        if snap.run_id != self.run_id:
            self.run_id = snap.run_id
            self._rates.clear()
            if self._seed_history is not None:  # a session's run goes on from its history
                self.history.load(*self._seed_history, run_id=snap.run_id)
                self._seed_history = None
            self.new_run.emit(snap)
        self.snapshots += 1
        self.history.add(snap)
        self.latest = snap
        self.version += 1
        self._rate(snap.step)
        text = snap.message
        if snap.diverged:
            self.paused = True
            self.message.emit(ERROR, text.replace("diverged:", "Diverged:", 1))
            self.state_changed.emit()
        elif text.startswith("restarted"):
            self.message.emit(INFO, f"Run restarted ({text.split(':', 1)[-1].strip()}).")
        elif text.startswith("not applied"):
            self.message.emit(WARN, text[0].upper() + text[1:])
        elif text == "finished":
            self.done = True
            self.message.emit(INFO, f"Finished {snap.step} iterations. Reset to train again.")
            self.state_changed.emit()
            self.finished.emit(snap)

    @Slot(str)
    def on_failed(self, text: str) -> None:
        """The run stopped on an exception: say so; the window stays usable."""
        print(text, file=sys.stderr)
        lines = [line for line in text.strip().splitlines() if line.strip()]
        last = lines[-1] if lines else "unknown error"
        self.dead = True
        self.message.emit(ERROR, f"Training stopped by an error: {last}. "
                                 "Change a setting or press Reset to start again.")
        self.state_changed.emit()

    @Slot(str)
    def on_notice(self, text: str) -> None:
        self.message.emit(INFO, text[0].upper() + text[1:])

    @Slot(object)
    def on_state_ready(self, payload) -> None:
        """The run's exact state came (every snapshot before it too): write the session file."""
        from ganviz.core.session import Session, save_session

        path, config, step, state = payload
        steps, measured = self.history.columns()
        keep, keep_m = steps["step"] <= step, measured["step"] <= step
        try:
            save_session(path, Session(
                Config.from_dict(config), step=step, state=state, preset=self.preset,
                history={k: v[keep] for k, v in steps.items()},
                measured={k: v[keep_m] for k, v in measured.items()}))
        except OSError as exc:
            self.message.emit(ERROR, f"Session not saved: could not write {path} ({exc.strerror or exc}).")
            return
        self.message.emit(INFO, f"Session saved to {path} (step {step:,}).")

    # --- sessions ------------------------------------------------------------

    def save_session(self, path) -> None:
        """Write a session file (config, exact state, history) of the run's next step.

        The run hands out its state between two steps, after the snapshots of
        every step before it, so weights and history agree; ``message`` says
        when the file is written or why not.
        """
        if self.worker is None:
            self.message.emit(WARN, "Nothing to save: no run is going.")
            return
        self.worker.request_state(str(path))

    def open_session(self, path) -> bool:
        """Open a session file: its config, state and history replace the run.

        A file that cannot be read gives one message and leaves the run as it was.
        """
        from ganviz.core.session import SessionError, load_session, state_to_numpy

        try:
            session = load_session(path)
        except SessionError as exc:
            self.message.emit(ERROR, f"Could not open the session: {exc}")
            return False
        self.config = session.config
        self.preset = session.preset
        self.frozen = set((session.state or {}).get("frozen", ()))
        self.config_changed.emit(self.config)
        self.session_opened.emit(self.preset, "".join(sorted(self.frozen)))
        self._seed_history = (session.history, session.measured) if session.history else None
        state = state_to_numpy(session.state) if session.state is not None else None
        if self.worker is not None:
            self._restart(state)
        else:
            self._initial_state = state
        self.message.emit(INFO, f"Opened session {path} at step {session.step:,}.")
        return True

    @Slot(str, bool)
    def set_freeze(self, which: str, on: bool) -> None:
        """Freeze (``on``) or thaw D (``which`` = "d") or G ("g"): evaluated, not updated."""
        (self.frozen.add if on else self.frozen.discard)(which)
        if self.worker is not None:
            self.worker.set_params({f"freeze_{which}": bool(on)})

    def _send_frozen(self) -> None:
        if self.frozen:
            self.worker.set_params({f"freeze_{n}": True for n in self.frozen})

    def _restart(self, state=None) -> None:
        """A new run of the config in force (from ``state``), obeying Freeze and Play/Pause."""
        self.dead = self.done = False
        self.worker.reset(self.config.to_dict(), state)
        self._send_frozen()  # the boxes stay ticked: the new run obeys them too
        self.worker.pause() if self.paused else self.worker.resume()
        self.state_changed.emit()

    # --- commands from the controls ---------------------------------------

    @Slot(dict)
    def set_params(self, changes: dict) -> bool:
        """Validate and apply config changes; hot ones at the next step, cold ones restart."""
        changes = expand_lr(changes)
        try:
            new = self.config.replace(**changes)
            if new.device != self.config.device:
                from ganviz.core.trainer import resolve_device

                resolve_device(new.device)
        except ConfigError as exc:
            self.message.emit(WARN, f"Not applied: {exc}")
            self.config_changed.emit(self.config)  # the controls show the value in force
            return False
        old = self.config
        diff = {k: getattr(new, k) for k in changes if getattr(new, k) != getattr(old, k)}
        if not diff:
            return True
        self.config = new
        cold = sorted(set(diff) & COLD_KEYS)
        if self.worker is None:
            return True
        if self.dead or (self.done and cold):
            self.reset()
        elif cold:
            self.message.emit(INFO, f"Restarting the run: {', '.join(cold)} changed "
                                    "(a model or data setting needs a fresh run).")
            self.worker.set_params(diff)
        else:
            self.worker.set_params(diff)
        return True

    @Slot(float)
    def set_speed(self, speed: float) -> None:
        """Iterations per second at most (0: full speed); slow motion for a lecture."""
        self.speed = float(speed)
        if self.worker is not None:
            self.worker.set_params({"speed": self.speed})

    @Slot()
    def play(self) -> None:
        if self.dead or self.done:
            self.paused = False
            self.reset()
            return
        self.paused = False
        if self.worker is not None:
            self.worker.resume()
        self.state_changed.emit()

    @Slot()
    def pause(self) -> None:
        self.paused = True
        if self.worker is not None:
            self.worker.pause()
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
        if not self.paused:
            self.pause()
        self.worker.step(n, kind)

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
        self.config = preset.config
        self.preset = name
        self.config_changed.emit(self.config)
        self.reset()
        self.message.emit(INFO, f"Preset: {preset.title}")
        return preset

    # --- speed -------------------------------------------------------------

    def _rate(self, step: int) -> None:
        now = time.monotonic()
        q = self._rates
        q.append((now, step))
        while len(q) > 2 and now - q[0][0] > 2.0:
            q.popleft()
        if len(q) >= 2 and q[-1][0] - q[0][0] > 0.25:
            self.steps_per_s = max(0.0, (q[-1][1] - q[0][1]) / (q[-1][0] - q[0][0]))
