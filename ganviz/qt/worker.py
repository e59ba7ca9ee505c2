"""The worker: the only module that meets both Qt and the training loop.

A :class:`Worker` is a QThread that drives a :class:`ganviz.core.child.Session`
and turns its events into signals. In ``process`` mode (the default) the
session runs in a child process started with ``spawn`` and the thread only
moves snapshots from a queue to signals; torch then never competes with the
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

from ganviz.core.child import ERROR, EXIT, SNAP, Fattener, Session, child_main

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

    def __init__(self, config: dict, mode: str | None = None, *, max_steps: int | None = None,
                 interval: float = 1 / 30, measure: bool = True, speed: float = 0.0,
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
        self._backlog: list[tuple] = []  # commands before a session or process exists
        if self.mode == "thread" and session is None:
            self._session = Session(self._config, **self._options)
        if self.mode == "process":
            self._ctx = multiprocessing.get_context("spawn")
            self._commands = self._ctx.Queue()
            self._events = self._ctx.Queue(maxsize=256)
            self._commands.cancel_join_thread()

    # --- commands (call from the GUI thread) -----------------------------

    def send(self, cmd: tuple) -> None:
        """Pass a command tuple to the session (see ganviz.core.child)."""
        with self._lock:
            if self.mode == "process":
                self._commands.put(cmd)
            else:
                self._session.command(cmd)

    def set_params(self, changes: dict) -> None:
        """Hot changes apply at the next step; cold ones restart the run."""
        self.send(("set", dict(changes)))

    def pause(self) -> None:
        self.send(("pause",))

    def resume(self) -> None:
        self.send(("resume",))

    def step(self, n: int = 1) -> None:
        """While paused: train ``n`` iterations."""
        self.send(("step", int(n)))

    def reset(self, config: dict) -> None:
        """Start a new run of ``config``; snapshots of older runs are dropped."""
        self._epoch += 1
        self.send(("reset", dict(config), self._epoch))

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the run to end and wait for the thread (and process); True when it ended."""
        self._quit.set()
        try:
            self.send(("quit",))
        except Exception:  # a broken queue: the thread still ends on the flag
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
        if epoch < self._epoch:
            return  # a run the user has already reset
        if kind == SNAP:
            self.snapshot.emit(payload)
        elif kind == ERROR:
            self.failed.emit(str(payload))

    def _run_thread(self) -> None:
        if self._session is None:  # fell back from process mode
            self._session = Session(self._config, **self._options)
        import torch

        torch.set_num_threads(int(os.environ.get("GANVIZ_THREADS", "1")))
        if self._quit.is_set():
            return
        self._session.run(self._deliver)

    def _run_process(self) -> None:
        proc = self._ctx.Process(
            target=child_main, args=(self._commands, self._events, self._config, self._options),
            name="ganviz-train", daemon=True,
        )
        try:
            proc.start()
        except Exception as exc:  # e.g. no way to spawn here: train in this thread instead
            self.notice.emit(f"could not start a training process ({exc}); training in a thread")
            self._fallback_to_thread()
            return
        self._process = proc
        fatten = Fattener()
        exited = False
        deadline = None
        while True:
            try:
                event = self._events.get(timeout=0.05)
            except queue.Empty:
                event = None
            except (EOFError, OSError):
                break
            if event is not None:
                event = fatten(event)
                if event[0] == EXIT:
                    exited = True
                    break
                if not self._quit.is_set():
                    self._deliver(event)
                continue
            if self._quit.is_set():
                deadline = deadline or time.monotonic() + 0.8
                if not proc.is_alive() or time.monotonic() > deadline:
                    break
            elif not proc.is_alive():
                self.failed.emit(
                    f"the training process ended unexpectedly (exit code {proc.exitcode})"
                )
                break
        proc.join(0.5 if exited else 0.1)
        if proc.is_alive():
            proc.kill()  # a process, not a QThread: it holds nothing of ours
            proc.join(0.5)
        self._events.close()

    def _fallback_to_thread(self) -> None:
        backlog = []
        while True:
            try:
                backlog.append(self._commands.get_nowait())
            except (queue.Empty, OSError, EOFError):
                break
        with self._lock:
            self.mode = "thread"
            self._session = Session(self._config, **self._options)
            for cmd in backlog:
                self._session.command(cmd)
        self._run_thread()

