"""The dynamics lab window draws the toy game it is set to and follows its controls (offscreen)."""

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
