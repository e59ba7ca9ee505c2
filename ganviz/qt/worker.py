"""The worker: turns a supervisor's events into Qt signals, on the GUI thread.

The supervisor (:mod:`ganviz.runner.supervisor`) owns the run and knows
nothing of Qt; this polls it on a timer of the GUI thread and emits each
fresh event as :attr:`Worker.event`, so every slot runs in the GUI thread.
The supervisor's threads (training, or a training process's event reader)
allocate beside Qt's objects, so a worker keeps cyclic garbage collection on
the GUI thread (:mod:`ganviz.qt.collector`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from .collector import collect_on_gui_thread

#: How often events are collected, ms: well within a 60 Hz frame.
POLL_MS = 8


class Worker(QObject):
    """Emits the fresh events of ``supervisor`` as signals while started."""

    #: A :class:`ganviz.core.events.Event` of the current run (or of the host).
    event = Signal(object)

    def __init__(self, supervisor, parent=None) -> None:
        super().__init__(parent)
        collect_on_gui_thread()
        self.supervisor = supervisor
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        self._timer.start(POLL_MS)

    def stop(self) -> None:
        self._timer.stop()

    def poll(self) -> None:
        """Emit what arrived since the last poll (also callable directly, e.g. in tests)."""
        for event in self.supervisor.poll():
            self.event.emit(event)
