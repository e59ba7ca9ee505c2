"""Cyclic garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread allocates when a
generation's threshold is passed. Beside a window that is often not the GUI
thread: training in a thread, the reader of a training process's events, a
recording's encoder. A Qt object in a reference cycle (pyqtgraph's items, a
closed menu or window) would then be destroyed there, which Qt forbids (a
timer stopped from another thread, a widget deleted outside the GUI thread)
and which can deadlock the process: the collecting thread holds the GIL while
it waits for a Qt lock that the GUI thread holds while it waits for the GIL.

:func:`collect_on_gui_thread` turns automatic collection off and lets a
timer of the GUI thread collect what automatic collection would have
(:func:`collect_due`), as pyqtgraph's ``GarbageCollector`` does.
"""

from __future__ import annotations

import gc

#: How often the GUI thread looks for garbage due, ms.
INTERVAL_MS = 1000

_timer = None


def collect_due() -> int:
    """Collect the generations whose thresholds were passed, as automatic collection would.

    Returns
    -------
    int
        Unreachable objects found (0 when no generation was due).
    """
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if c0 <= t0:
        return 0
    return gc.collect(2 if c1 > t1 and c2 > t2 else 1 if c1 > t1 else 0)


def collect_on_gui_thread() -> None:
    """From now on, collect cyclic garbage on the GUI thread only.

    Call it from the GUI thread once a ``QApplication`` exists; later calls
    only make sure automatic collection is still off. For the rest of the
    process, garbage is collected while the event loop runs; code that runs
    none for long (a test between windows) calls :func:`collect_due` itself.
    """
    global _timer
    if _timer is None:
        from PySide6.QtCore import QCoreApplication, QTimer

        _timer = QTimer(QCoreApplication.instance())
        _timer.timeout.connect(collect_due)
        _timer.start(INTERVAL_MS)
    gc.disable()
