"""Drives :func:`loop.train` for the GUI's worker: commands in, snapshots out; no Qt.

A :class:`Session` runs one training run after another (a reset starts the
next) and obeys commands given as tuples from any thread:

    ("set", {key: value})   hot or cold parameter changes (cold ones restart)
    ("pause",) ("resume",) ("step", n[, kind])   kind: iteration (default), d or g
    ("reset", config_dict, epoch[, state])   restart from this config (and an
                            Engine.state() in numpy arrays); later messages carry ``epoch``
    ("state", tag)          send the run's exact state (for a session file)
    ("quit",)

It hands each event to ``emit`` as ``(kind, epoch, payload)``: ``("snap",
epoch, Snapshot)``, ``("error", epoch, text)``, ``("state", epoch, (tag,
config_dict, step, state))`` with the state in numpy arrays; every snapshot
of the steps before it was handed out first. The worker runs a session in a
thread of the GUI process, or in a child process started with the ``spawn``
method (:func:`child_main`), where snapshots travel through a pipe: there
:class:`Slimmer` leaves out the heavy arrays that did not change since the
previous message, and :class:`Fattener` on the other side puts them back.
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from typing import Any, Callable

from .config import SNAPSHOT_INTERVAL, Config

#: Snapshot fields that change only on a heavy refresh or a new run (sent when changed).
HEAVY_FIELDS = (
    "xs", "ys", "p_data", "p_g", "d", "d_star", "real", "z", "mode_centres", "mode_counts",
)
SNAP, ERROR, EXIT, STATE = "snap", "error", "exit", "state"


class Session:
    """Trains run after run of ``config`` as commands say, handing events to ``emit``.

    Parameters
    ----------
    config : dict
        The first run's config keys.
    max_steps : int, optional
        Each run ends after this many iterations (then the session waits for a reset).
    interval, measure, speed :
        As for :func:`loop.train`.
    paused : bool
        Start paused (after the step-0 snapshot).
    """

    def __init__(self, config: dict, *, max_steps: int | None = None, interval: float = SNAPSHOT_INTERVAL,
                 measure: bool = True, speed: float = 0.0, paused: bool = False) -> None:
        from .loop import Inbox  # imports torch: keep the module light until a run starts

        self._Inbox = Inbox
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._config = Config.from_dict(config)
        self._kw = dict(max_steps=max_steps, interval=interval, measure=measure)
        self._speed = float(speed)
        self._inbox = Inbox()
        if paused:
            self._inbox.pause()
        self._pending: tuple[dict, int, dict | None] | None = None
        self._quit = False
        self._epoch = 0
        self._emit: Callable[[tuple], None] | None = None
        self.run_id = 0

    def command(self, cmd: tuple) -> None:
        """Obey one command tuple (see the module docstring); safe from any thread."""
        kind = cmd[0]
        with self._lock:
            inbox = self._inbox
            if kind == "set":
                changes = dict(cmd[1])
                if "speed" in changes:
                    self._speed = float(changes["speed"])
                inbox.put(changes)
            elif kind == "pause":
                inbox.pause()
            elif kind == "resume":
                inbox.resume()
            elif kind == "step":
                inbox.request_steps(int(cmd[1]), *cmd[2:3])
            elif kind == "reset":
                # A fresh inbox at once, so that commands after the reset reach the new run.
                self._pending = (dict(cmd[1]), int(cmd[2]), cmd[3] if len(cmd) > 3 else None)
                self._inbox = self._Inbox()
                if inbox.paused:
                    self._inbox.pause()
                inbox.stop()
            elif kind == "state":
                inbox.call(self._state_sender(cmd[1]))
            elif kind == "quit":
                self._quit = True
                inbox.stop()
            else:
                raise ValueError(f"unknown command {kind!r}")
        self._wake.set()

    def _state_sender(self, tag):
        """A call for the loop: hand out its engine's exact state."""
        from .session import state_to_numpy

        def send(engine) -> None:
            if self._emit is not None:
                state = state_to_numpy(engine.state(full=True))
                self._emit((STATE, self._epoch, (tag, engine.config.to_dict(), engine.step, state)))

        return send

    def run(self, emit: Callable[[tuple], None]) -> None:
        """Train until a ``quit`` command; blocks the calling thread."""
        from .loop import train

        self._emit = emit
        config, epoch, ran, state = self._config, 0, False, None
        while True:
            with self._lock:
                if self._pending is not None:  # a reset, possibly before the first run
                    values, epoch, state = self._pending
                    self._epoch = epoch
                    self._pending = None
                    try:
                        config = Config.from_dict(values)
                    except Exception:
                        config = None
                        emit((ERROR, epoch, traceback.format_exc()))
                inbox = self._inbox
            if self._quit:
                return
            if config is not None:
                if ran:
                    self.run_id += 1
                ran = True
                try:
                    if state is not None:
                        from .session import state_to_torch

                        state = state_to_torch(state)
                    for snap in train(config, inbox, run_id=self.run_id, speed=self._speed,
                                      state=state, **self._kw):
                        self.run_id = snap.run_id
                        emit((SNAP, epoch, snap))
                except Exception:  # shown by the GUI; the session waits for a reset
                    emit((ERROR, epoch, traceback.format_exc()))
                config, state = None, None
            # The run ended (finished, failed, reset or quit): wait for what comes next,
            # still answering calls (a save) with the engine the run left.
            while not self._quit and self._pending is None:
                self._wake.wait(0.1)
                self._wake.clear()
                for fn in inbox.take_calls():
                    if inbox.engine is not None:
                        fn(inbox.engine)


class Slimmer:
    """Turns session events into small picklable tuples: unchanged heavy arrays left out."""

    def __init__(self) -> None:
        self._sent: dict[str, Any] = {}

    def __call__(self, event: tuple) -> tuple:
        kind, epoch, payload = event
        if kind != SNAP:
            return event
        fields = {f.name: getattr(payload, f.name) for f in dataclasses.fields(payload)}
        for name in HEAVY_FIELDS:
            value = fields[name]
            if name in self._sent and self._sent[name] is value:
                del fields[name]  # the probe hands out the same array until it recomputes
            else:
                self._sent[name] = value
        return (kind, epoch, fields)


class Fattener:
    """Rebuilds whole snapshots from :class:`Slimmer` tuples (the receiving side)."""

    def __init__(self) -> None:
        self._have: dict[str, Any] = {}

    def __call__(self, event: tuple) -> tuple:
        kind, epoch, payload = event
        if kind != SNAP:
            return event
        from .snapshot import Snapshot

        for name in HEAVY_FIELDS:
            if name in payload:
                self._have[name] = payload[name]
            else:
                payload[name] = self._have.get(name)
        return (kind, epoch, Snapshot(**payload))


def child_main(commands, events, config: dict, options: dict) -> None:
    """Entry point of the training process: commands from a pipe, slim events to a pipe.

    Sends are synchronous (no feeder thread), so every message is whole when the
    process exits; a closed pipe on either side means the GUI is gone: stop.
    """
    from ganviz.core.trainer import set_threads

    set_threads()
    slim = Slimmer()
    lock = threading.Lock()  # the session thread and the command thread both send

    def send(event) -> None:
        with lock:
            events.send(event)

    try:
        session = Session(config, **options)
    except Exception:
        send((ERROR, 0, traceback.format_exc()))
        send((EXIT, 0, None))
        return

    def forward() -> None:
        while True:
            try:
                cmd = commands.recv()
            except (EOFError, OSError):
                session.command(("quit",))  # the GUI is gone: do not train on alone
                return
            try:
                session.command(cmd)
            except Exception:
                send((ERROR, 0, traceback.format_exc()))
            if cmd[0] == "quit":
                return

    threading.Thread(target=forward, name="ganviz-commands", daemon=True).start()

    def emit(event) -> None:
        try:
            send(slim(event))
        except (BrokenPipeError, EOFError, OSError):
            session.command(("quit",))

    session.run(emit)
    try:
        send((EXIT, 0, None))
    except (BrokenPipeError, EOFError, OSError):
        pass
