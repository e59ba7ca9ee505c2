"""The window on a projector's screen: the data view keeps most of it; what is in force and
what happened is on the plots (badge, event markers); the scenario says when it is modified."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from ganviz.core.config import Config
from ganviz.core.presets import load_preset

SMALL = Config.from_dict({"data": "gaussian", "z_dim": 1, "hidden": 16, "batch_size": 64})


def _settle(qtbot):
    """Let the layout place everything (no wall-clock assertion: events only)."""
    for _ in range(3):
        QApplication.processEvents()


@pytest.mark.parametrize("size", [(1280, 720), (1366, 768)])
@pytest.mark.parametrize("present", [False, True])
def test_data_view_keeps_half_the_width_and_most_of_the_height(qtbot, make_window, size,
                                                                present):
    window = make_window(load_preset("ring8").config.replace(hidden=16), "ring8",
                         window_size=size)
    window.set_presentation(present)
    _settle(qtbot)
    assert (window.width(), window.height()) == size
    assert window.dock.isVisible() is not present
    assert window.lecture_bar.isVisible() is present
    view = window.stack
    assert view.width() >= size[0] / 2, (view.width(), window.series.width(), window.dock.width())
    assert view.height() >= 0.7 * size[1], view.height()
    # The time series are still there and wide enough to read.
    assert window.series.width() >= 200
    window.set_presentation(False)
    _settle(qtbot)
    assert window.dock.isVisible() and not window.lecture_bar.isVisible()


@pytest.mark.parametrize("preset", ["ring8", "gaussian-1d"])
def test_the_controls_fit_the_dock_at_1280x720(qtbot, make_window, preset):
    # Wider than the dock's viewport, the panel is clipped on the right (no horizontal
    # scroll bar): the scenario text, the Reset button and the combo boxes were cut.
    window = make_window(load_preset(preset).config.replace(hidden=16), preset,
                         window_size=(1280, 720))
    _settle(qtbot)
    viewport = window.dock.widget().viewport().width()
    assert window.controls.minimumSizeHint().width() <= viewport
    assert window.controls.width() <= viewport


def test_banner_floats_over_the_plots_without_moving_them(qtbot, make_window):
    window = make_window(window_size=(1280, 720))
    # The first picture is drawn (the view it needs is shown) before the layout is read.
    qtbot.waitUntil(lambda: window._frames >= 1, timeout=30_000)
    _settle(qtbot)
    before = window.stack.geometry()
    window.show_message("warn", "Not applied: lr_d must be positive")
    _settle(qtbot)
    assert window.banner.isVisible() and window.stack.geometry() == before
    assert window.banner.geometry().intersects(window.split.geometry())


def test_time_series_panels_are_the_ones_the_teacher_picks(qtbot, make_window):
    window = make_window(window_size=(1280, 720))
    series = window.series
    assert "loss" in series.shown()
    window.series_actions["loss"].trigger()  # View > Time series > Losses, off
    assert "loss" not in series.shown() and not series.plots["loss"].isVisible()
    window.series_actions["kl"].trigger()
    assert "kl" in series.shown()
    with pytest.raises(KeyError, match="panels: loss"):
        series.set_panel("nope", True)


def test_a_change_puts_a_labelled_marker_on_the_time_series(qtbot, make_window):
    window = make_window()
    c = window.controller
    qtbot.waitUntil(lambda: c.latest is not None and c.latest.step >= 5, timeout=20_000)
    assert c.set_params({"k": 3})
    at = c.latest.step
    c.set_freeze("g", True)
    c.set_params({"lr_d": "2e-3"})
    labels = [label for _step, label in c.history.events]
    assert labels == ["k 3", "freeze G", "lr D 0.002"]
    assert c.history.events[0][0] == at
    window.series.draw(c.history, c.latest)
    assert [label for _s, label in window.series.marker_labels()] == labels
    c.reset()  # a new run: the old markers go, "reset" marks the start of the new one
    qtbot.waitUntil(lambda: c.latest.run_id == 1, timeout=20_000)
    assert [label for _s, label in c.history.events] == ["reset"]


def test_badge_names_what_is_in_force(qtbot, make_window):
    from ganviz.app.main_window import badge_text

    window = make_window(SMALL.replace(loss="wgan-gp", k=5, lr_d=1e-4, lr_g=2e-4))
    c = window.controller
    c.set_freeze("d", True)
    qtbot.waitUntil(lambda: c.latest is not None and c.latest.frozen == ("d",), timeout=20_000)
    text = badge_text(c.latest)
    assert text.startswith("wgan-gp")
    for part in ("k 5", "lr D 0.0001", "lr G 0.0002", "D frozen", f"iteration {c.latest.step:,}"):
        assert part in text, text
    qtbot.waitUntil(lambda: "D frozen" in window.badge.text(), timeout=5_000)
    # The badge is inside the central widget: window grabs and recordings carry it.
    assert window.centralWidget().isAncestorOf(window.badge) and window.badge.isVisible()


def test_scenario_says_modified_from_its_preset(qtbot, pg_style):
    from ganviz.app.controls import DIMMED, ControlPanel

    preset = load_preset("ring8")
    panel = ControlPanel(preset.config, "ring8")
    qtbot.addWidget(panel)
    assert "Modified" not in panel.explanation.text() and panel.modified_keys() == []
    panel.show_config(preset.config.replace(k=5, loss="wgan-gp"))
    text = panel.explanation.text()
    assert "Modified from ring8" in text and "loss, k changed" in text
    assert f'color:{DIMMED}"><b>Look for:' in text  # the preset's "Look for" dimmed
    panel.show_config(preset.config)
    assert "Modified" not in panel.explanation.text()
    assert f'color:{DIMMED}' not in panel.explanation.text()


def test_window_size_and_present_flags():
    from ganviz.cli import UsageError, build_parser

    args = build_parser().parse_args(["--window-size", "1280x720", "--present"])
    assert args.window_size == (1280, 720) and args.present
    with pytest.raises(UsageError, match="WIDTHxHEIGHT"):
        build_parser().parse_args(["--window-size", "big"])


def test_an_own_target_keeps_its_data_in_the_data_box(qtbot, pg_style):
    from ganviz.app.controls import ControlPanel
    from ganviz.core.config import Config

    config = Config(data="mixture:0.9*N(0;0.5)+0.1*N(3;0.5)", z_dim=1)
    panel = ControlPanel(config, None)
    qtbot.addWidget(panel)
    assert panel.data.currentData() == config.data
    assert panel.data.currentText().startswith("own target")
    sent = []
    panel.params_changed.connect(sent.append)
    panel.data.activated.emit(panel.data.currentIndex())
    assert sent == [{"data": config.data}]


def test_scenario_describes_a_typed_or_drawn_target_instead_of_the_presets(qtbot, pg_style):
    import numpy as np

    from ganviz.app.controls import ControlPanel
    from ganviz.core import points

    preset = load_preset("ring8")
    panel = ControlPanel(preset.config, "ring8")
    qtbot.addWidget(panel)
    assert preset.explanation[:40] in panel.explanation.text()
    panel.show_config(preset.config.replace(data="mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3)"))
    text = panel.explanation.text()
    assert "Modified from ring8" in text and "the target is yours" in text
    assert "Your typed target: a mixture of 2 Gaussians in 2-D" in text
    assert "0.9 x N(0, 0; 0.1); 0.1 x N(2, 2; 0.3)" in text and "exact" in text
    assert preset.explanation[:40] not in text  # not the preset's ring any more
    drawn = points.register_points(np.random.default_rng(3).normal(size=(250, 2)), "drawn")
    panel.show_config(preset.config.replace(data=drawn.data))
    text = panel.explanation.text()
    assert "Your target: 250 points in 2-D, drawn in the window" in text
    assert "p_data is an estimate: a Gaussian KDE of 250 points" in text
    assert preset.explanation[:40] not in text
    panel.show_config(preset.config.replace(data="grid25"))  # a named target: the preset's text
    assert preset.explanation[:40] in panel.explanation.text()
