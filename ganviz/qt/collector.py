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
timer of the GUI thread collect each generation when automatic collection
would have (pyqtgraph's ``GarbageCollector``).
"""

from __future__ import annotations

import gc

_collector = None


def collect_on_gui_thread(interval: float = 1.0) -> None:
    """From now on, collect cyclic garbage on the GUI thread only, every ``interval`` s.

    Call it from the GUI thread once a ``QApplication`` exists; later calls
    do nothing. For the rest of the process automatic collection stays off,
    so code that keeps no event loop running (a test between windows) calls
    ``gc.collect()`` itself.
    """
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=interval)
    gc.disable()  # again, should anything have turned it back on
