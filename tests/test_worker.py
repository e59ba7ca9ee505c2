"""The worker: snapshots out as signals, prompt stop, many emits, slim queue traffic."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, Slot

from ganviz.core.child import HEAVY_FIELDS, SNAP, Fattener, Session, Slimmer
from ganviz.core.config import Config
from ganviz.qt.worker import Worker

SMALL = Config.from_dict({"data": "gaussian", "z_dim": 1, "hidden": 16, "batch_size": 64}).to_dict()


class Sink(QObject):
    """Receives worker signals in the GUI thread, as the controller does."""

    def __init__(self) -> None:
        super().__init__()
        self.snaps = []
        self.errors = []
        self.count = 0

    @Slot(object)
    def on_snapshot(self, snap) -> None:
        self.count += 1
        if len(self.snaps) < 200:
            self.snaps.append(snap)

    @Slot(str)
    def on_failed(self, text: str) -> None:
        self.errors.append(text)


def _start(worker: Worker) -> Sink:
    sink = Sink()
    worker.snapshot.connect(sink.on_snapshot)
    worker.failed.connect(sink.on_failed)
    worker.start()
    return sink


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_worker_emits_snapshots_and_stops_promptly(qtbot, mode):
    worker = Worker(SMALL, mode, measure=(mode == "process"))
    sink = _start(worker)
    try:
        qtbot.waitUntil(lambda: sink.count >= 5 and sink.snaps[-1].step > 20, timeout=30_000)
    finally:
        if sink.count < 5:
            worker.stop(1.0)
    assert not sink.errors
    steps = [s.step for s in sink.snaps]
    assert steps == sorted(steps)
    t0 = time.perf_counter()
    assert worker.stop(1.0)
    assert time.perf_counter() - t0 < 1.0
    assert not worker.isRunning()
    if mode == "process":
        snap = sink.snaps[-1]  # heavy fields were merged back in the parent
        assert snap.p_data is not None and snap.d is not None and snap.xs is not None


def test_worker_pause_step_and_reset_drop_the_old_run(qtbot):
    worker = Worker(SMALL, "thread", measure=False)
    sink = _start(worker)
    try:
        qtbot.waitUntil(lambda: sink.count >= 3, timeout=10_000)
        worker.pause()
        qtbot.wait(150)
        n, step = sink.count, sink.snaps[-1].step
        qtbot.wait(200)
        assert sink.snaps[-1].step == step  # paused: nothing trains
        worker.step(1)
        qtbot.waitUntil(lambda: sink.snaps[-1].step == step + 1, timeout=5_000)
        old_run = sink.snaps[-1].run_id
        mark = len(sink.snaps)
        worker.reset(dict(SMALL, k=2))
        qtbot.waitUntil(lambda: sink.snaps[-1].run_id > old_run, timeout=10_000)
        after = sink.snaps[mark:]
        assert all(s.run_id > old_run for s in after)  # the stopped run's last word is dropped
        assert after[0].config["k"] == 2 and after[0].step == 0
        assert n <= sink.count
    finally:
        assert worker.stop(1.0)


def test_worker_failure_becomes_a_signal(qtbot):
    bad = dict(SMALL, device="cuda")  # no CUDA here: the engine refuses it inside the run
    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    worker = Worker(bad, "thread", measure=False)
    sink = _start(worker)
    try:
        qtbot.waitUntil(lambda: bool(sink.errors), timeout=10_000)
        assert "cuda" in sink.errors[0].lower()
        worker.reset(SMALL)  # the session survives and trains again
        qtbot.waitUntil(lambda: sink.count >= 2, timeout=10_000)
    finally:
        assert worker.stop(1.0)


class FloodSession:
    """A stand-in session that emits many small snapshots as fast as it can."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.quit = False

    def command(self, cmd) -> None:
        if cmd[0] == "quit":
            self.quit = True

    def run(self, emit) -> None:
        payload = {"x": np.zeros(4)}
        for i in range(self.n):
            if self.quit:
                return
            emit((SNAP, 0, (i, payload)))
        while not self.quit:
            time.sleep(0.01)


def test_tens_of_thousands_of_emits_do_not_crash(qtbot):
    """PySide6 6.12 aborted Python 3.11 after a few thousand emits; the pin must hold."""
    n = 30_000
    worker = Worker({}, session=FloodSession(n))
    sink = _start(worker)
    try:
        qtbot.waitUntil(lambda: sink.count >= n, timeout=60_000)
    finally:
        assert worker.stop(1.0)
    assert sink.count == n


def test_slim_messages_leave_out_unchanged_heavy_fields():
    ring = dict(SMALL, data="ring8", z_dim=2)
    session = Session(ring, max_steps=400, interval=0.01)
    events = []
    # Run to max_steps, then quit from the emit callback once the run has finished.

    def emit(event):
        events.append(event)
        if event[2].message == "finished":
            session.command(("quit",))

    session.run(emit)
    slim, fat = Slimmer(), Fattener()
    sizes, rebuilt = [], []
    for event in events:
        small = slim(event)
        sizes.append(len(pickle.dumps(small)))
        rebuilt.append(fat(pickle.loads(pickle.dumps(small))))
    first, later = sizes[0], sorted(sizes[1:])[len(sizes[1:]) // 2]
    assert later < first / 5  # most messages carry no grids
    for (_, _, snap), (_, _, back) in zip(events, rebuilt):
        for name in HEAVY_FIELDS + ("fake", "fake_grad"):
            a, b = getattr(snap, name), getattr(back, name)
            assert (a is None and b is None) or np.array_equal(a, b)
        assert back.step == snap.step and back.history.keys() == snap.history.keys()


def test_reset_before_the_first_snapshot_starts_the_new_config(qtbot):
    worker = Worker(SMALL, "thread", measure=False)
    sink = _start(worker)  # the reset below may reach the session before its first run
    worker.reset(dict(SMALL, k=3))
    try:
        qtbot.waitUntil(lambda: sink.count >= 2, timeout=10_000)
        assert all(s.config["k"] == 3 for s in sink.snaps)
    finally:
        assert worker.stop(1.0)
