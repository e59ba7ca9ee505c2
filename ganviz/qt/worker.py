"""The worker: the only module that meets both Qt and the training loop.

A :class:`Worker` is a QThread that drives a :class:`ganviz.core.child.Session`
and turns its events into signals. In ``process`` mode (the default) the
session runs in a child process started with ``spawn`` and the thread only
moves snapshots from a pipe to signals; torch then never competes with the
GUI for the GIL (DESIGN.md section 7 measured 3-4x lost speed in-process). In
``thread`` mode the session runs in this QThread itself. The views do not know
which.

Connect the signals to ``@Slot`` methods of QObjects that live in the GUI
thread (not to lambdas: those would run in this thread).
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time

from PySide6.QtCore import QThread, Signal

from ganviz.core.child import ERROR, EXIT, SNAP, STATE, Fattener, Session, child_main
from ganviz.core.config import SNAPSHOT_INTERVAL

MODES = ("process", "thread")


def default_mode() -> str:
    """``GANVIZ_WORKER`` (process or thread) when set, else ``process``."""
    mode = os.environ.get("GANVIZ_WORKER", "process").strip().lower()
    return mode if mode in MODES else "process"


class Worker(QThread):
    """Trains a run in a thread or a child process and emits its snapshots.

    Parameters
    ----------
    config : dict
        The first run's config keys.
    mode : str
        ``process`` (child process, default) or ``thread`` (in this QThread).
    max_steps, interval, measure, speed, paused :
        As for :class:`ganviz.core.child.Session`.
    session : object, optional
        A stand-in with ``command(tuple)`` and ``run(emit)`` (tests); thread mode.
    """

    #: A whole :class:`ganviz.core.snapshot.Snapshot` of the current run.
    snapshot = Signal(object)
    #: A failure in training (a traceback or a sentence); the run is stopped.
    failed = Signal(str)
    #: Something to tell the user that is not a failure.
    notice = Signal(str)
    #: (tag, config dict, step, state in numpy arrays) answering :meth:`request_state`.
    state_ready = Signal(object)

    def __init__(self, config: dict, mode: str | None = None, *, max_steps: int | None = None,
                 interval: float = SNAPSHOT_INTERVAL, measure: bool = True, speed: float = 0.0,
                 paused: bool = False, session=None, parent=None) -> None:
        super().__init__(parent)
        self.mode = mode or default_mode()
        if self.mode not in MODES:
            raise ValueError(f"unknown worker mode {self.mode!r}; accepted: {', '.join(MODES)}")
        if session is not None:
            self.mode = "thread"
        self._config = dict(config)
        self._options = dict(max_steps=max_steps, interval=interval, measure=measure,
                             speed=speed, paused=paused)
        self._epoch = 0
        self._quit = threading.Event()
        self._session = session
        self._process = None
        self._lock = threading.Lock()
        if self.mode == "thread" and session is None:
            self._session = Session(self._config, **self._options)
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()  # GUI thread -> this thread
        if self.mode == "process":
            self._ctx = multiprocessing.get_context("spawn")

    # --- commands (call from the GUI thread) -----------------------------

    def send(self, cmd: tuple) -> None:
        """Pass a command tuple to the session (see ganviz.core.child); never blocks."""
        with self._lock:
            if self.mode == "process":
                self._outbox.put(cmd)  # this thread forwards it within ~10 ms
            else:
                self._session.command(cmd)

    def set_params(self, changes: dict) -> None:
        """Hot changes apply at the next step; cold ones restart the run."""
        self.send(("set", dict(changes)))

    def pause(self) -> None:
        self.send(("pause",))

    def resume(self) -> None:
        self.send(("resume",))

    def step(self, n: int = 1, kind: str = "iteration") -> None:
        """While paused: ``n`` iterations, or ``n`` single D (``d``) or G (``g``) updates."""
        self.send(("step", int(n), kind))

    def reset(self, config: dict, state: dict | None = None) -> None:
        """Start a new run of ``config`` (from ``state``, an Engine.state(), if given);
        snapshots of older runs are dropped."""
        self._epoch += 1
        self.send(("reset", dict(config), self._epoch, state))

    def request_state(self, tag) -> None:
        """Ask for the run's exact state at its next step; ``state_ready`` brings it."""
        self.send(("state", tag))

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the run to end and wait for the thread (and process); True when it ended."""
        self._quit.set()
        try:
            self.send(("quit",))
        except Exception:  # the thread still ends on the flag
            pass
        if not self.isRunning():
            return True
        return self.wait(max(1, int(timeout * 1000)))

    @property
    def epoch(self) -> int:
        return self._epoch

    # --- the thread ------------------------------------------------------

    def run(self) -> None:  # noqa: D401 - QThread entry point
        try:
            if self.mode == "process":
                self._run_process()
            else:
                self._run_thread()
        except Exception:
            import traceback

            self.failed.emit(traceback.format_exc())

    def _deliver(self, event: tuple) -> None:
        kind, epoch, payload = event
        if epoch < self._epoch and kind != STATE:
            return  # a run the user has already reset
        if kind == SNAP:
            self.snapshot.emit(payload)
        elif kind == ERROR:
            self.failed.emit(str(payload))
        elif kind == STATE:
            self.state_ready.emit(payload)

    def _run_thread(self) -> None:
        if self._session is None:  # fell back from process mode
            self._session = Session(self._config, **self._options)
        from ganviz.core.trainer import set_threads

        set_threads()
        if self._quit.is_set():
            return
        self._session.run(self._deliver)

    def _run_process(self) -> None:
        # Pipes, not queues: sends are synchronous, so a message is never cut short by a
        # process that exits; and once each side holds only its own ends, a dead peer
        # reads as EOF instead of a read that waits for ever.
        cmd_recv, cmd_send = self._ctx.Pipe(duplex=False)
        ev_recv, ev_send = self._ctx.Pipe(duplex=False)
        proc = self._ctx.Process(
            target=child_main, args=(cmd_recv, ev_send, self._config, self._options),
            name="ganviz-train", daemon=True,
        )
        try:
            proc.start()
        except Exception as exc:  # e.g. no way to spawn here: train in this thread instead
            for conn in (cmd_recv, cmd_send, ev_recv, ev_send):
                conn.close()
            self.notice.emit(f"could not start a training process ({exc}); training in a thread")
            self._fallback_to_thread()
            return
        cmd_recv.close()
        ev_send.close()
        self._process = proc
        try:
            self._pump(proc, cmd_send, ev_recv)
        finally:
            proc.join(0.3)
            if proc.is_alive():
                proc.kill()  # a process, not a QThread: it holds nothing of ours
                proc.join(0.5)
            cmd_send.close()
            ev_recv.close()

    def _pump(self, proc, cmd_send, ev_recv) -> None:
        """Forward commands to the child and its events to signals until it exits."""
        fatten = Fattener()
        deadline = None
        while True:
            try:
                while True:
                    cmd_send.send(self._outbox.get_nowait())
            except queue.Empty:
                pass
            except (OSError, EOFError):
                pass  # the child is gone; the read below says so
            try:
                event = ev_recv.recv() if ev_recv.poll(0.01) else None
            except (EOFError, OSError):
                if not self._quit.is_set():
                    proc.join(0.2)
                    self.failed.emit("the training process ended unexpectedly "
                                     f"(exit code {proc.exitcode})")
                return
            if event is not None:
                event = fatten(event)
                if event[0] == EXIT:
                    return
                if not self._quit.is_set():
                    self._deliver(event)
            elif self._quit.is_set():
                deadline = deadline or time.monotonic() + 0.6
                if time.monotonic() > deadline:
                    return

    def _fallback_to_thread(self) -> None:
        with self._lock:
            self.mode = "thread"
            self._session = Session(self._config, **self._options)
            while True:
                try:
                    self._session.command(self._outbox.get_nowait())
                except queue.Empty:
                    break
        self._run_thread()
