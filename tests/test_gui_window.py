"""The main window with a real training run: controls reach the engine, pause/step/reset,
divergence, failures, presets, responsiveness and a clean, prompt shutdown."""

from __future__ import annotations

import pytest

from ganviz.core.config import Config
from ganviz.core.events import Paused, Resumed, Snapshotted
from ganviz.core.presets import load_preset, preset_names

SMALL = Config.from_dict({"data": "gaussian", "z_dim": 1, "hidden": 16, "batch_size": 64})


def _latest(window):
    return window.controller.latest


def _wait_step(qtbot, window, step, timeout=20_000):
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).step >= step,
                    timeout=timeout)


def test_window_trains_and_draws(qtbot, make_window):
    window = make_window()
    _wait_step(qtbot, window, 50)
    qtbot.waitUntil(lambda: window._frames >= 3, timeout=5_000)
    assert window.view1d.p_data.xData is not None
    assert "step" in window.status["step"].text()
    assert window.stack.currentWidget() is window.view1d


def test_slider_change_reaches_the_engine(qtbot, make_window):
    window = make_window()
    _wait_step(qtbot, window, 5)
    window.controls.k.setValue(3)
    qtbot.waitUntil(lambda: _latest(window).config["k"] == 3, timeout=5_000)
    # Linked learning-rate sliders move both rates.
    assert window.controls.link.isChecked()
    window.controls.lr_d.slider.setValue(window.controls.lr_d.slider.value() + 100)  # x10
    qtbot.waitUntil(lambda: abs(_latest(window).config["lr_g"] - 1e-2) < 1e-9, timeout=5_000)
    assert _latest(window).config["lr_d"] == _latest(window).config["lr_g"]
    assert window.controls.lr_g.edit.text() == "0.01"


def test_invalid_typed_value_gets_one_clear_message(qtbot, make_window):
    window = make_window()
    _wait_step(qtbot, window, 5)
    edit = window.controls.lr_d.edit
    edit.setText("fast please")
    edit.setModified(True)
    edit.editingFinished.emit()
    assert window.banner.isVisible()
    assert "lr_d must be a number" in window.banner.text()
    assert window.controller.config.lr_d == SMALL.lr_d
    assert edit.text() == "0.001"  # the value in force is shown again
    window.controls.batch.setCurrentText("0")
    window.controls.batch.lineEdit().editingFinished.emit()
    assert "batch_size must be between" in window.banner.text()
    _wait_step(qtbot, window, _latest(window).step + 5)  # still training


def test_pause_step_and_reset(qtbot, make_window):
    window = make_window()
    c = window.controller
    _wait_step(qtbot, window, 20)
    with qtbot.waitSignal(c.worker.event, timeout=20_000,
                          check_params_cb=lambda e: isinstance(e, Paused)) as paused:
        window.controls.play.click()  # pause
        assert c.paused and window.controls.play.text() == "Play"
    step = paused.args[0].snapshot.step
    qtbot.wait(200)
    assert _latest(window).step == step  # nothing trains while paused
    window.controls.step.click()
    qtbot.waitUntil(lambda: _latest(window).step == step + 1, timeout=5_000)
    qtbot.wait(100)
    assert _latest(window).step == step + 1
    d_updates, g_updates = _latest(window).d_updates, _latest(window).g_updates
    window.controls.step_d.click()  # D alone: D moves, the iteration count does not
    qtbot.waitUntil(lambda: _latest(window).d_updates == d_updates + 1, timeout=5_000)
    assert _latest(window).g_updates == g_updates and _latest(window).step == step + 1
    window.controls.step_g.click()
    qtbot.waitUntil(lambda: _latest(window).g_updates == g_updates + 1, timeout=5_000)
    window.controls.k.setValue(2)  # an edit that reset must keep
    run = _latest(window).run_id
    window.controls.reset.click()
    qtbot.waitUntil(lambda: _latest(window).run_id > run, timeout=10_000)
    assert _latest(window).step == 0 and _latest(window).config["k"] == 2
    assert c.history.steps.n == 0  # the histories start again
    window.controls.play.click()  # play
    assert not c.paused
    _wait_step(qtbot, window, 10)


def test_cold_change_restarts_and_switches_view(qtbot, make_window):
    window = make_window()
    _wait_step(qtbot, window, 5)
    run = _latest(window).run_id
    combo = window.controls.data
    combo.setCurrentIndex(combo.findData("ring8"))
    combo.activated.emit(combo.currentIndex())
    assert "Restarting" in window.banner.text() and "data" in window.banner.text()
    qtbot.waitUntil(lambda: _latest(window).run_id > run and _latest(window).dim == 2,
                    timeout=15_000)
    qtbot.waitUntil(lambda: window.stack.currentWidget() is window.view2d, timeout=5_000)
    assert window.controls.layer_boxes[2].isVisibleTo(window.controls)


def test_divergence_pauses_and_says_what_diverged(qtbot, make_window):
    window = make_window()
    _wait_step(qtbot, window, 5)
    window.controller.set_params({"optimizer": "sgd", "lr": 10.0})
    qtbot.waitUntil(lambda: "Diverged" in window.banner.text(), timeout=20_000)
    assert window.controller.paused
    assert window.banner.isVisible() and window.banner.property("level") == "error"
    assert "Diverged" in window.banner.text() and "not finite" in window.banner.text()
    assert window.controls.play.text() == "Play"
    step = _latest(window).step
    qtbot.wait(300)
    assert _latest(window).step == step  # paused; the last good plots stay
    # Lower the rate and go on.
    window.controller.set_params({"optimizer": "adam", "lr": 1e-3})
    window.controls.play.click()
    _wait_step(qtbot, window, step + 20)
    assert not window.banner.isVisible() or window.banner.property("level") != "error"


def test_worker_exception_shows_a_message_and_window_stays_usable(qtbot, make_window,
                                                                  monkeypatch):
    import ganviz.core.loop as loop

    real_train = loop.train
    calls = []

    def broken_train(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            gen = real_train(*args, **kw)
            yield next(gen)
            raise RuntimeError("boom in the training loop")
        yield from real_train(*args, **kw)

    monkeypatch.setattr(loop, "train", broken_train)
    window = make_window()
    qtbot.waitUntil(lambda: window.controller.dead, timeout=10_000)
    assert "boom in the training loop" in window.banner.text()
    assert window.controls.play.text() == "Run again"
    window.controls.play.click()  # starts a fresh run
    _wait_step(qtbot, window, 10)
    assert not window.controller.dead


def test_preset_menu_shows_explanation_and_loads_config(qtbot, make_window):
    names = preset_names()
    target = "ring8" if "ring8" in names else names[-1]
    window = make_window(preset=None)
    combo = window.controls.preset
    index = combo.findData(target)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    preset = load_preset(target)
    assert preset.explanation[:40] in window.controls.explanation.text()
    assert window.controller.config == preset.config
    qtbot.waitUntil(lambda: _latest(window) is not None
                    and _latest(window).config["data"] == preset.config.data, timeout=15_000)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_close_while_training_ends_the_run_and_its_process(qtbot, make_window, mode):
    window = make_window(mode=mode)
    _wait_step(qtbot, window, 30, timeout=30_000)
    transport = window.controller.supervisor._transport
    window.close()
    assert window.controller.worker is None and not transport.alive
    if mode == "process":
        assert not transport._process.is_alive()


def test_qt_objects_in_garbage_cycles_die_on_the_gui_thread_not_a_busy_other_one(qtbot):
    """A worker keeps cyclic garbage collection on the GUI thread: a Qt object in a cycle
    outlives a background thread's allocations (which would collect it there otherwise)
    and dies when the GUI thread's event loop collects."""
    import gc
    import threading
    import weakref

    from PySide6.QtCore import QObject

    from ganviz.qt.worker import Worker

    gc.enable()  # as in a fresh process (the tests keep it off: conftest.py)
    try:
        worker = Worker(supervisor=None)
        assert not gc.isenabled()
        died_in = []
        obj = QObject()
        obj.me = obj  # a cycle: only the cyclic collector frees it (and its C++ object)
        alive = weakref.ref(obj, lambda _: died_in.append(threading.current_thread().name))
        del obj

        def allocate() -> None:  # as training or the event reader does: many containers
            for _ in range(200):
                junk = [[i] for i in range(1000)]
                del junk

        busy = threading.Thread(target=allocate, name="busy")
        busy.start()
        busy.join()
        assert died_in == []
        # Live objects past the threshold at which automatic collection would have run:
        # the GUI thread's collector collects on its next tick.
        keep = [[] for _ in range(2 * gc.get_threshold()[0])]
        qtbot.waitUntil(lambda: bool(died_in), timeout=10_000)
        del keep
        assert died_in == ["MainThread"] and alive() is None
        worker.deleteLater()
    finally:
        gc.disable()


def test_a_killed_training_process_is_noticed_and_play_starts_a_new_one(qtbot, make_window):
    window = make_window(mode="process")
    _wait_step(qtbot, window, 5, timeout=30_000)
    transport = window.controller.supervisor._transport
    transport._process.kill()
    qtbot.waitUntil(lambda: window.controller.dead, timeout=20_000)
    assert "ended unexpectedly" in window.banner.text()
    assert window.controls.play.text() == "Run again"
    run = _latest(window).run_id
    window.controls.play.click()
    qtbot.waitUntil(lambda: _latest(window).run_id > run and _latest(window).step > 5,
                    timeout=30_000)
    assert not window.controller.dead
    assert window.controller.supervisor._transport is not transport


def test_slow_motion_and_unavailable_device(qtbot, make_window):
    window = make_window()
    _wait_step(qtbot, window, 5)
    events = []
    window.controller.worker.event.connect(events.append)
    window.controller.pause()
    qtbot.waitUntil(lambda: any(isinstance(e, Paused) for e in events), timeout=20_000)
    combo = window.controls.speed
    combo.setCurrentIndex(combo.findData(10.0))
    combo.activated.emit(combo.currentIndex())
    assert window.controller.supervisor.speed == 10.0
    window.controller.play()  # the speed was sent first: every later step is in slow motion
    after = lambda: [e.snapshot for e in events[next(  # noqa: E731
        (i for i, e in enumerate(events) if isinstance(e, Resumed)), len(events)):]
        if isinstance(e, Snapshotted)]
    qtbot.waitUntil(lambda: len(after()) >= 4, timeout=20_000)
    assert all(len(s.history["step"]) == 1 for s in after())  # every iteration shown
    qtbot.waitUntil(lambda: window.controller.supervisor.devices is not None)
    if "cuda" not in window.controller.supervisor.devices:
        run = _latest(window).run_id
        window.controller.set_params({"device": "cuda"})
        assert "Not applied" in window.banner.text() and "cuda" in window.banner.text()
        assert window.controls.device.currentText() == "auto"
        qtbot.wait(200)
        assert _latest(window).run_id == run and not window.controller.dead


def test_preset_names_in_the_explanation_are_links_that_open_them(qtbot, make_window):
    window = make_window(load_preset("vanishing-gradients").config, "vanishing-gradients")
    text = window.controls.explanation.text()
    assert '<a href="vanishing-fixed"' in text and "`" not in text
    window.controls.explanation.linkActivated.emit("vanishing-fixed")
    assert window.controls.preset.currentData() == "vanishing-fixed"
    assert window.controller.config == load_preset("vanishing-fixed").config
    assert "nonsaturating" == window.controller.config.loss
