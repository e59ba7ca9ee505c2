"""The window's sessions, freezing, presentation mode and remembered settings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from ganviz.core.config import Config
from ganviz.core.trainer import Engine
from ganviz.core.session import load_session

RING = Config.from_dict({"data": "ring8", "hidden": 16, "batch_size": 32, "seed": 4})


def _latest(window):
    return window.controller.latest


def _save(qtbot, window, path):
    window.controller.save_session(path)
    qtbot.waitUntil(lambda: "Session saved" in window.banner.text(), timeout=10_000)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_saved_session_resumes_exactly_in_a_new_window(qtbot, make_window, tmp_path, mode):
    """Save mid-run, open in a new window paused, take one iteration: the losses are
    those an engine computes from the same file, and the history came along."""
    window = make_window(RING, "ring8", mode=mode)
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).step >= 40,
                    timeout=20_000)
    window.controller.pause()
    path = tmp_path / "lesson.json"
    _save(qtbot, window, path)
    session = load_session(path)
    assert session.config == RING and session.preset == "ring8"
    assert session.step == _latest(window).step and "optim" in session.state
    assert len(session.history["step"]) == session.step  # every iteration so far
    window.close()

    other = make_window(Config(), mode=mode)  # another config running
    qtbot.waitUntil(lambda: _latest(other) is not None, timeout=20_000)
    other.controller.pause()
    assert other.open_session(path)
    qtbot.waitUntil(lambda: _latest(other) is not None and _latest(other).config["data"] == "ring8"
                    and _latest(other).step == session.step, timeout=20_000)
    assert other.controller.history.steps.n == session.step  # drawn before it goes on
    assert other.controls.preset.currentData() == "ring8"
    other.controller.step()
    qtbot.waitUntil(lambda: _latest(other).step == session.step + 1, timeout=10_000)

    engine = Engine(session.config)
    engine.load_state(session.state)
    engine.train_step()
    expected = engine.drain()
    got = _latest(other).history
    for name in ("loss_d", "loss_g", "grad_norm_g"):
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-6)


def test_broken_session_is_refused_and_the_run_goes_on(qtbot, make_window, tmp_path):
    window = make_window()
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).step > 5,
                    timeout=20_000)
    run, config = _latest(window).run_id, window.controller.config
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"format": "ganviz-session", "version": 1, "config": {"k": 0}}))
    assert not window.open_session(bad)
    text = window.banner.text()
    assert "Could not open" in text and "broken.json" in text and "k" in text
    assert window.banner.property("level") == "error"
    step = _latest(window).step
    qtbot.waitUntil(lambda: _latest(window).step > step + 20, timeout=10_000)
    assert _latest(window).run_id == run and window.controller.config == config


def test_unwritable_session_path_says_so(qtbot, make_window, tmp_path):
    window = make_window()
    qtbot.waitUntil(lambda: _latest(window) is not None, timeout=20_000)
    window.controller.save_session(tmp_path / "no-such-dir" / "s.json")
    qtbot.waitUntil(lambda: "not saved" in window.banner.text(), timeout=10_000)
    assert "no-such-dir" in window.banner.text()


def test_freeze_d_stops_d_updates_and_a_session_keeps_it(qtbot, make_window, tmp_path):
    window = make_window(RING)
    c = window.controller
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).step > 5,
                    timeout=20_000)
    c.set_freeze("d", True)
    qtbot.waitUntil(lambda: _latest(window).frozen == ("d",), timeout=10_000)
    first = _latest(window)
    qtbot.waitUntil(lambda: _latest(window).step > first.step + 30, timeout=10_000)
    last = _latest(window)
    assert last.d_updates == first.d_updates and last.g_updates > first.g_updates
    c.pause()
    path = tmp_path / "frozen.json"
    _save(qtbot, window, path)
    assert load_session(path).state["frozen"] == ["d"]
    c.set_freeze("d", False)
    c.step()
    qtbot.waitUntil(lambda: _latest(window).d_updates > last.d_updates, timeout=10_000)
    assert window.open_session(path)
    assert c.frozen == {"d"} and window.controls.freeze_d.isChecked()
    qtbot.waitUntil(lambda: _latest(window).frozen == ("d",) and
                    _latest(window).step == load_session(path).step, timeout=10_000)
    run = _latest(window).run_id
    c.reset()  # a fresh run still obeys the ticked box
    c.step()
    qtbot.waitUntil(lambda: _latest(window).run_id > run and _latest(window).step == 1,
                    timeout=10_000)
    assert _latest(window).frozen == ("d",) and _latest(window).d_updates == 0


def test_presentation_mode_and_settings_are_remembered(qtbot, make_window, tmp_path):
    settings = QSettings(str(tmp_path / "ganviz.ini"), QSettings.Format.IniFormat)
    window = make_window(preset="gaussian-1d")
    window.restore_settings(settings)
    base = window.banner.font().pointSize()
    window.presentation_action.trigger()  # what F11 does
    assert window.presenting and window.isFullScreen()
    assert window.banner.font().pointSize() > base
    # The dock gives way to the lecture bar; H brings the controls back, and hides them.
    assert not window.dock.isVisible() and window.lecture_bar.isVisible()
    window.controls_action.trigger()
    assert window.dock.isVisible()
    window.controls_action.trigger()
    assert not window.dock.isVisible()
    window.close()
    settings.sync()
    assert settings.value("presentation", type=bool) is True
    assert settings.value("last_preset") == "gaussian-1d"

    again = make_window()
    again.restore_settings(settings)
    assert again.presenting and again.isFullScreen()
    again.presentation_action.trigger()
    assert not again.presenting and not again.isFullScreen()
    assert again.banner.font().pointSize() == base
    assert again.dock.isVisible() and not again.lecture_bar.isVisible()


def test_help_lists_every_shortcut_the_window_has(qtbot, make_window):
    from PySide6.QtGui import QAction, QShortcut

    from ganviz.app.help import SHORTCUTS

    window = make_window()
    keys = {s.key().toString() for s in window.findChildren(QShortcut)}
    keys |= {a.shortcut().toString() for a in window.findChildren(QAction) if not a.shortcut().isEmpty()}
    listed = {k for k, _ in SHORTCUTS}
    assert {"Space", "S", "D", "G", "R", "F11"} <= listed
    assert keys <= listed, keys - listed
    assert listed <= keys, listed - keys


def test_theory_dialog_draws_the_closed_form_curves(qtbot, pg_style):
    from ganviz.app.help import theory_dialog

    dialog = theory_dialog(None)
    qtbot.addWidget(dialog)
    assert len(dialog.view.low.listDataItems()) == 3  # minimax, non-saturating, Wasserstein
    js = dialog.view.top.listDataItems()[0]
    x, y = js.getData()
    # JS(N(0,1) || N(2,1)) = 0.336831 nats (tests/test_theory.py); ln 2 at the far end.
    assert abs(np.interp(2.0, x, y) - 0.336831) < 2e-3 and abs(y[-1] - np.log(2)) < 1e-6
    # The minimax gradient at b = 10 is 4.464e-6 (log axis: the item holds log10).
    xm, ym = dialog.view.low.listDataItems()[0].getData()
    assert abs(np.interp(10.0, xm, ym) - np.log10(4.464e-6)) < 0.05


def test_sessions_that_would_crash_the_engine_are_refused_and_the_run_goes_on(
        qtbot, make_window, tmp_path):
    """Files that once passed validation and then stopped training: a wrong-length or
    all-zero random stream, a missing optimizer buffer, a step beyond int64."""
    import base64

    from ganviz.core.session import Session, save_session

    engine = Engine(RING)
    engine.train_step()
    good = tmp_path / "good.json"
    save_session(good, Session(RING, step=1, state=engine.state(full=True)))
    window = make_window()
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).step > 5,
                    timeout=20_000)
    run, config = _latest(window).run_id, window.controller.config
    changes = {
        "rng state holds 12 bytes": lambda d: d["rng"].update(
            state=base64.b64encode(b"\x01" * 12).decode()),
        "all zeros": lambda d: d["rng"].update(state=base64.b64encode(bytes(5056)).decode()),
        "exp_avg is missing": lambda d: d["optimizer"]["G"]["buffers"].pop("exp_avg"),
        "2**63 - 1": lambda d: d.update(step=2**63),
    }
    for words, change in changes.items():
        doc = json.loads(good.read_text())
        change(doc)
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(doc))
        assert not window.open_session(bad)
        assert "Could not open" in window.banner.text() and words in window.banner.text()
    step = _latest(window).step
    qtbot.waitUntil(lambda: _latest(window).step > step + 20, timeout=10_000)
    assert _latest(window).run_id == run and window.controller.config == config
