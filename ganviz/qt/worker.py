"""The worker: turns a supervisor's events into Qt signals, on the GUI thread.

The supervisor (:mod:`ganviz.runner.supervisor`) owns the run and knows
nothing of Qt; this polls it on a timer of the GUI thread and emits each
fresh event as :attr:`Worker.event`, so every slot runs in the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

#: How often events are collected, ms: well within a 60 Hz frame.
POLL_MS = 8


class Worker(QObject):
    """Emits the fresh events of ``supervisor`` as signals while started."""

    #: A :class:`ganviz.core.events.Event` of the current run (or of the host).
    event = Signal(object)

    def __init__(self, supervisor, parent=None) -> None:
        super().__init__(parent)
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
