"""The dynamics lab window draws the toy game it is set to and follows its controls (offscreen)."""

from types import SimpleNamespace

import numpy as np
import pytest

from ganviz.core import dynamics as dyn
from ganviz.core.dynamics import Game


@pytest.fixture
def lab(qtbot, pg_style):
    from ganviz.app.dynamics import DynamicsLab

    window = DynamicsLab(Game(update="simultaneous"), (1.0, 1.0), 200)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def drawn(item):
    x, y = item.getData()
    return np.asarray(x), np.asarray(y)


def test_the_lab_draws_field_trajectory_and_spectra(lab):
    view = lab.view
    x, y = drawn(view.arrows)
    assert len(x) == 6 * view.field_speed.size - 6 * int((view.field_speed == 0).sum())
    assert len(x) > 1000 and np.isfinite(x).all()
    path = dyn.trajectory(Game(update="simultaneous"), 1.0, 1.0, 200)
    np.testing.assert_array_equal(np.stack(drawn(view.path), axis=1), path)
    ex, ey = view.field_eigen.getData()
    np.testing.assert_allclose(sorted(ey), [-0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(ex, 0, atol=1e-12)
    ux, uy = view.update_eigen.getData()
    np.testing.assert_allclose(ux, 1, atol=1e-12)
    np.testing.assert_allclose(sorted(uy), [-0.1, 0.1], atol=1e-12)
    assert "1.004988" in lab.radius.text()
    dx, dy = drawn(view.distance)
    np.testing.assert_allclose(10**dy, dyn.distance(path), rtol=1e-12)  # log axis: log10 drawn


def test_a_control_change_redraws(lab):
    lab.inputs["r1"].setValue(0.3)
    ex, ey = lab.view.field_eigen.getData()
    np.testing.assert_allclose(ex, -0.15, atol=1e-9)
    np.testing.assert_allclose(sorted(ey), [-0.4769696, 0.4769696], atol=1e-6)
    assert "0.974679" in lab.radius.text()
    end = drawn(lab.view.path)[0][-1], drawn(lab.view.path)[1][-1]
    expected = dyn.trajectory(Game(update="simultaneous", r1=0.3), 1.0, 1.0, 200)[-1]
    assert end == tuple(expected) and np.hypot(*end) < 0.01  # 0.974679^200 ~ 0.0055
    lab.inputs["update"].setCurrentText("extragradient")
    assert lab.game.update == "extragradient" and lab.inputs["k"].isEnabled() is False
    assert lab.view.radius == pytest.approx(dyn.spectral_radius(lab.game), abs=1e-15)


def test_a_refused_setting_is_named_and_the_plots_keep_the_last_game(lab):
    lab.inputs["update"].setCurrentText("alternating")
    lab.inputs["k"].setValue(3)
    before = drawn(lab.view.path)
    lab.inputs["update"].setCurrentText("optimistic")
    assert "k=3 is for update=alternating" in lab.message.text()
    assert lab.game.update == "alternating" and lab.game.k == 3
    np.testing.assert_array_equal(drawn(lab.view.path)[0], before[0])


def test_dragging_the_start_moves_the_trajectory(lab):
    lab.view.start_moved.emit(0.5, -1.5)
    assert (lab.inputs["theta0"].value(), lab.inputs["psi0"].value()) == (0.5, -1.5)
    x, y = drawn(lab.view.path)
    assert (x[0], y[0]) == (0.5, -1.5)
    pos = lab.view.start.pos()
    assert (pos.x(), pos.y()) == (0.5, -1.5)


def test_the_main_window_opens_the_lab_from_its_view_menu(qtbot, make_window):
    window = make_window()
    act = next(a for a in window.view_menu.actions() if a.text() == "&Dynamics lab")
    act.trigger()
    lab = window._dynamics_lab
    qtbot.addWidget(lab)
    assert lab.isVisible() and lab.game.loss == window.controller.config.loss
    act.trigger()  # once per window
    assert window._dynamics_lab is lab


def test_a_screenshot_of_the_lab_alone(tmp_path):
    import subprocess
    import sys

    import imageio.v3 as iio

    out = tmp_path / "lab.png"
    result = subprocess.run(
        [sys.executable, "main.py", "--dynamics", "dirac", "--set", "r1=0.3", "--screenshot",
         str(out), "-platform", "offscreen"],
        capture_output=True, text=True, timeout=120,
        cwd=__import__("pathlib").Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    image = iio.imread(out)
    assert image.shape[0] > 400 and image.shape[1] > 800 and image.std() > 10


# --- following the run, small multiples, the live spectrum ----------------------------------


class Source:
    """A stand-in for the controller: its config, its two signals, the requests it got."""

    def __init__(self, config):
        from PySide6.QtCore import QObject, Signal

        class Signals(QObject):
            applied = Signal(object)
            spectrum = Signal(object)
            comparison_changed = Signal(object)

        self._signals = Signals()
        self.applied, self.spectrum = self._signals.applied, self._signals.spectrum
        self.comparison_changed = self._signals.comparison_changed
        self.comparison = None
        self.config = config
        self.asked = []
        self.members = []

    def request_spectrum(self, tag, k=16, member=0):
        self.asked.append((tag, k))
        self.members.append(member)
        return True

    def apply(self, **changes):
        import dataclasses

        self.config = dataclasses.replace(self.config, **changes)
        self.applied.emit(self.config)


@pytest.fixture
def linked(qtbot, pg_style):
    from ganviz.app.dynamics import DynamicsLab
    from ganviz.core.config import Config

    source = Source(Config(loss="minimax", optimizer="sgd", lr_d=0.2, lr_g=0.2))
    window = DynamicsLab(source=source)
    qtbot.addWidget(window)
    window.show()
    yield window, source
    window.close()


def test_the_lab_follows_the_runs_settings_as_they_change(linked):
    lab, source = linked
    assert lab.follow.isChecked() and lab.follow.isVisible()
    source.apply(r1=0.3, update="simultaneous")
    assert (lab.game.r1, lab.game.update, lab.game.loss) == (0.3, "simultaneous", "minimax")
    ex, ey = lab.view.field_eigen.getData()
    np.testing.assert_allclose(ex, -0.15, atol=1e-9)
    np.testing.assert_allclose(sorted(ey), [-0.4769696, 0.4769696], atol=1e-6)
    # The run's sgd has momentum 0.9, so has the toy: on each eigenvalue j of J the update
    # operator has the heavy-ball roots of l^2 - (1 + mu + h j) l + mu (0.974679 without it).
    assert lab.game.momentum == 0.9
    b = 1 + 0.9 + 0.2 * (-0.15 + 0.4769696j)
    radius = max(abs((b + s * np.sqrt(b * b - 3.6)) / 2) for s in (1, -1))
    assert f"{radius:.6f}" in lab.radius.text() and "1.154037" in lab.radius.text()
    source.apply(loss="hinge", lr_d=0.05, lr_g=0.1, k=3, update="alternating", r1=0.0,
                 consensus=0.5, instance_noise=0.2, r2=0.1)
    expected = Game(loss="hinge", lr_d=0.05, lr_g=0.1, k=3, consensus=0.5, instance_noise=0.2,
                    r2=0.1, momentum=0.9)
    assert lab.game == expected
    assert lab.view.radius == pytest.approx(dyn.spectral_radius(expected), abs=1e-15)
    np.testing.assert_array_equal(np.stack(drawn(lab.view.path), axis=1),
                                  dyn.trajectory(expected, 1.0, 1.0, 500))


def test_what_the_toy_leaves_out_is_named(linked):
    lab, source = linked
    source.apply(loss="wgan-gp", optimizer="adam")
    assert lab.game.loss == "wgan"
    assert "wgan for wgan-gp" in lab.note.text() and "optimizer is adam" in lab.note.text()
    # A run's config cannot hold k > 1 with a joint rule (config.py refuses it) ...
    from ganviz.core.config import ConfigError

    with pytest.raises(ConfigError, match="k=4 is for update=alternating"):
        source.apply(loss="minimax", update="extragradient", k=4)
    # ... and the lab still reads one that does (keys by name) as the toy's k = 1.
    from types import SimpleNamespace

    from ganviz.app.dynamics import follow_values

    values, notes = follow_values(SimpleNamespace(loss="minimax", update="extragradient", k=4))
    assert values["k"] == 1 and any("k=1" in n for n in notes)


def test_editing_a_followed_setting_in_the_lab_stops_following(linked):
    lab, source = linked
    lab.inputs["r2"].setValue(0.5)
    assert not lab.follow.isChecked() and "r2 set here" in lab.note.text()
    source.apply(loss="lsgan")
    assert lab.game.loss == "minimax" and lab.game.r2 == 0.5
    lab.follow.setChecked(True)  # following again takes the run's settings at once
    assert lab.game.loss == "lsgan" and lab.game.r2 == 0.0


def test_small_multiples_of_the_update_rules_on_linked_axes(lab):
    lab.tabs.setCurrentIndex(1)
    panels = lab.multiples.panels
    assert len(panels) == 4
    for panel, update, radius in zip(panels, dyn.UPDATES, lab.multiples.radii):
        game = dyn.vary(lab.game, "update", update)
        assert radius == pytest.approx(dyn.spectral_radius(game), abs=1e-15)
        assert f"update={update}" in panel.titleLabel.text
        assert f"ρ = {radius:.4f}" in panel.titleLabel.text
    assert all(p.vb.linkedView(0) is panels[0].vb for p in panels[1:])
    panels[0].setXRange(-0.5, 0.5, padding=0)  # from [-2, 2]: every panel zooms in
    low, high = panels[3].vb.viewRange()[0]
    assert -0.6 < low < -0.45 and 0.45 < high < 0.6  # the locked aspect may widen it a little


def test_small_multiples_of_r1_and_bad_values(lab):
    lab.tabs.setCurrentIndex(1)
    lab.vary.setCurrentText("r1")
    lab.values.setText("0, 0.3, 1")
    lab.redraw_multiples()
    expected = [dyn.spectral_radius(Game(update="simultaneous", r1=g)) for g in (0, 0.3, 1)]
    np.testing.assert_allclose(lab.multiples.radii, expected, atol=1e-15)
    lab.values.setText("0, x")
    lab.redraw_multiples()
    assert "r1 must be a number, got 'x'" in lab.multiples_message.text()
    assert len(lab.multiples.panels) == 3  # the last good ones stay
    lab.values.setText(", ".join(["0.1"] * 7))
    lab.redraw_multiples()
    assert "1 to 6 values" in lab.multiples_message.text()
    lab.values.setText("-1")
    lab.redraw_multiples()
    assert "r1=-1" in lab.multiples_message.text() and ">= 0" in lab.multiples_message.text()


def test_a_spectrum_answer_is_drawn_with_its_rotation_index(linked):
    from ganviz.core.events import SpectrumReady

    lab, source = linked
    lab.tabs.setCurrentIndex(2)
    lab.spectrum_button.click()
    lab.spectrum_button.click()  # one at a time: the second waits for the first
    assert len(source.asked) == 1
    tag = source.asked[0][0]
    values = np.array([-0.5 + 2j, -0.5 - 2j, 0.1 + 0j])
    source.spectrum.emit(SpectrumReady(0, ("other", 1), 7, values * 9))  # not ours: ignored
    assert lab.waiting and tag in lab._asked
    source.spectrum.emit(SpectrumReady(0, tag, 40, values, None, "exact", 3, 16, 0.012))
    x, y = lab.live.plain.getData()
    np.testing.assert_array_equal(x, values.real)
    np.testing.assert_array_equal(y, values.imag)
    assert lab.live.history == [(40, 4.0)]  # max |Im| 2 over max |Re| 0.5
    assert "Largest Re λ 0.1 (a direction pushes away)" in lab.live_status.text()
    lab.request_spectrum()
    source.spectrum.emit(SpectrumReady(0, source.asked[1][0], 41, None, reason="boom"))
    assert "No spectrum: boom." in lab.live_status.text() and not lab.waiting


def test_the_lab_alone_cannot_ask_for_a_spectrum(lab):
    assert not lab.follow.isVisible() and not lab.spectrum_button.isEnabled()
    lab.request_spectrum()  # nothing to ask: nothing happens
    assert not lab.waiting and lab._asked == {}


def test_the_main_windows_lab_takes_the_runs_spectrum(qtbot, make_window):
    from ganviz.core.config import Config

    window = make_window(Config(data="gaussian", z_dim=1, hidden=4, layers=1, batch_size=16))
    lab = next(a for a in window.view_menu.actions() if a.text() == "&Dynamics lab")
    lab.trigger()
    lab = window._dynamics_lab
    qtbot.addWidget(lab)
    window.controller.set_params({"lr_d": 0.01, "k": 2})
    assert lab.game.lr_d == 0.01 and lab.game.k == 2  # the real controls' path
    with qtbot.waitSignal(window.controller.spectrum, timeout=60_000):
        lab.spectrum_button.click()
    assert not lab.waiting
    x, _ = lab.live.plain.getData()
    assert len(x) == 26 and "(exact)" in lab.live_status.text()
    window.controller.load_preset("bimodal-k5")  # a preset: k = 5, its own rates
    preset = window.controller.config
    assert (lab.game.k, lab.game.lr_d, lab.game.loss) == (5, preset.lr_d, preset.loss)


def test_a_run_rate_too_small_to_see_a_turn_is_said(linked):
    lab, source = linked
    assert not lab.hint.isVisible()  # h = 0.2: 500 steps cover about eight turns
    source.apply(lr_d=0.001, lr_g=0.001)
    # minimax: one turn takes 2 pi / (1/2) = 12.57; 500 steps of 0.001 cover 0.5
    assert "flow time of 0.5" in lab.hint.text() and "takes 12.6" in lab.hint.text()
    assert lab.hint.isVisible()


def test_spectra_every_n_seconds_only_while_the_lab_is_open(linked):
    lab, _ = linked
    lab.every.setValue(5)
    assert lab.timer.isActive() and lab.timer.interval() == 5000
    lab.hide()
    assert not lab.timer.isActive()
    lab.show()
    assert lab.timer.isActive()
    lab.every.setValue(0)
    assert not lab.timer.isActive()


def test_a_new_run_forgets_the_rotation_history_and_the_request_it_replaced(linked):
    from ganviz.core.events import SpectrumReady

    lab, source = linked
    lab.request_spectrum()  # asked before the first run's start reached the window
    lab._on_new_run(SimpleNamespace(run_id=0))
    source.spectrum.emit(SpectrumReady(0, source.asked[0][0], 40, np.array([1 + 2j, 1 - 2j])))
    assert lab.live.history == [(40, 2.0)]  # run 0's answer, drawn
    lab.request_spectrum()
    assert lab.waiting
    lab._on_new_run(SimpleNamespace(run_id=1))  # run 0's answer may never come now
    assert lab.live.history == [] and not lab.waiting
    lab.request_spectrum()
    assert len(source.asked) == 3
    source.spectrum.emit(SpectrumReady(0, source.asked[1][0], 50, np.array([3j])))  # late
    assert lab.live.history == [] and "replaced" in lab.live_status.text() and lab.waiting


def test_in_compare_mode_the_spectrum_is_the_chosen_variants_and_says_whose(linked):
    from ganviz.app.compare import Comparison
    from ganviz.core.events import SpectrumReady

    lab, source = linked
    lab.tabs.setCurrentIndex(2)
    assert not lab.variant.isVisibleTo(lab)  # one run: nothing to choose
    lab.request_spectrum()
    assert source.members == [0]
    source.spectrum.emit(SpectrumReady(0, source.asked[0][0], 5, np.array([1j, -1j])))
    assert "Step 5: eigenvalues" in lab.live_status.text()
    comparison = Comparison.parse("loss=minimax,hinge,lsgan", source.config)
    source.comparison = comparison
    source.comparison_changed.emit(comparison)
    assert lab.variant.isVisibleTo(lab)
    assert [lab.variant.itemText(i) for i in range(3)] == comparison.labels
    assert lab.live.history == []  # another run: its rotation history starts afresh
    lab.variant.setCurrentIndex(1)
    assert lab.game.loss == "hinge" and "(loss=hinge)" in lab.note.text()  # the toy follows it
    lab.request_spectrum()
    assert source.members == [0, 1]
    values = np.array([-0.5 + 2j, -0.5 - 2j])
    source.spectrum.emit(SpectrumReady(0, source.asked[1][0], 40, values, None, "exact", 2,
                                       16, 0.01))
    assert lab.live_status.text().startswith("Step 40 of loss=hinge: eigenvalues all 2 (exact)")
    assert "loss=hinge, step 40" in lab.live.plane.titleLabel.text
    lab.variant.setCurrentIndex(2)
    lab.request_spectrum()
    assert source.members == [0, 1, 2]
    source.spectrum.emit(SpectrumReady(0, source.asked[2][0], 41, None, reason="boom"))
    assert lab.live_status.text() == "No spectrum of loss=lsgan: boom."
    source.comparison = None
    source.comparison_changed.emit(None)  # back to one run
    assert not lab.variant.isVisibleTo(lab) and lab.member() == (0, "")
    assert lab.game.loss == "minimax"


def test_the_main_windows_lab_takes_the_chosen_variants_spectrum(qtbot, make_window):
    from ganviz.core.config import Config

    window = make_window(Config(data="gaussian", z_dim=1, hidden=4, layers=1, batch_size=16))
    window.controller.pause()
    assert window.controller.compare("loss=minimax,hinge")
    next(a for a in window.view_menu.actions() if a.text() == "&Dynamics lab").trigger()
    lab = window._dynamics_lab
    qtbot.addWidget(lab)
    assert [lab.variant.itemText(i) for i in range(2)] == ["loss=minimax", "loss=hinge"]
    lab.variant.setCurrentIndex(1)
    with qtbot.waitSignal(window.controller.spectrum, timeout=60_000) as got:
        lab.spectrum_button.click()
    assert got.args[0].reason == ""
    assert " of loss=hinge: eigenvalues all 26 (exact)" in lab.live_status.text()
    window.controller.leave_compare()
    assert not lab.variant.isVisibleTo(lab)
