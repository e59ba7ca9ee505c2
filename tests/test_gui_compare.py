"""The window's compare mode: members equal the headless comparison, sessions, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.core.session import load_session
from ganviz.core.variants import parse_compare
from ganviz.runner.compare import run_compare

SMALL = Config.from_dict({"data": "ring8", "hidden": 16, "batch_size": 32, "seed": 3})
STEP_COLUMNS = ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "d_real", "d_fake")


def _all_finished(window):
    c = window.controller.comparison
    return c is not None and len(c.finished) == len(c)


def _all_at(window, step):
    c = window.controller.comparison
    return c is not None and all(s is not None and s.step == step for s in c.latest)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_each_member_in_the_window_is_its_headless_comparison_run(qtbot, make_window, tmp_path,
                                                                  mode):
    window = make_window(SMALL, max_steps=60, mode=mode)
    assert window.controller.compare("loss=minimax,hinge,wgan-gp")
    assert window.stack.currentWidget() is window.multiples
    assert [t.text() for t in window.multiples.titles] == ["loss=minimax", "loss=hinge",
                                                           "loss=wgan-gp"]
    qtbot.waitUntil(lambda: _all_finished(window), timeout=60_000)
    key, configs = parse_compare("loss=minimax,hinge,wgan-gp", SMALL)
    headless = run_compare(key, configs, 60, csv_path=tmp_path / "h.csv", every=20, processes=1)
    comparison = window.controller.comparison
    for i, run in enumerate(headless["runs"]):
        steps, _ = comparison.histories[i].columns()
        assert list(steps["step"]) == list(range(1, 61))
        import csv

        with open(tmp_path / "h.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["variant"] == run["variant"]]
        for name in STEP_COLUMNS:  # the CSV writes float32 values exactly (repr of a float)
            assert np.array_equal(steps[name].astype(np.float32),
                                  np.array([float(r[name]) for r in rows], dtype=np.float32)), name
        assert comparison.latest[i].metrics["loss_g"] == run["loss_g"]
    # What --screenshot prints: the headless comparison's runs, but for the clock's timings.
    assert comparison.summary()["runs"] == headless["runs"]
    # Export: one CSV with a variant column, through the one CSV writer.
    assert window.exporter.save_csv(tmp_path / "w.csv")
    text = (tmp_path / "w.csv").read_text().splitlines()
    assert text[0].startswith("variant,step,")
    hinge = [line.split(",")[1] for line in text if line.startswith("loss=hinge,")]
    assert hinge == ["0"] + [str(i) for i in range(1, 61)]  # the step-0 measurement, then each step
    window.controller.leave_compare()
    assert window.controller.comparison is None
    assert window.stack.currentWidget() is not window.multiples
    qtbot.waitUntil(lambda: window.controller.history.steps.n > 0, timeout=20_000)


def test_a_comparison_session_reopens_bit_for_bit(qtbot, make_window, tmp_path):
    window = make_window(SMALL)
    assert window.controller.compare("k=1,3")
    qtbot.waitUntil(lambda: all(s is not None and s.step >= 15
                                for s in window.controller.comparison.latest), timeout=30_000)
    window.controller.pause()
    path = tmp_path / "cmp.json"
    window.controller.save_session(path)
    qtbot.waitUntil(lambda: "saved" in window.banner.text(), timeout=20_000)
    session = load_session(path)
    c = session.comparison
    assert c["key"] == "k" and c["values"] == [1, 3] and len(c["members"]) == 2
    for m in c["members"]:
        assert m["state"]["counters"]["step"] == session.step
        assert len(m["history"]["step"]) == session.step
    window.close()

    other = make_window(Config.from_dict({"data": "gaussian", "hidden": 16, "batch_size": 64}))
    other.controller.pause()
    assert other.open_session(path)
    assert other.controller.comparison is not None
    qtbot.waitUntil(lambda: _all_at(other, session.step), timeout=30_000)
    # The reopened members hand out exactly the states that were saved.
    again = tmp_path / "again.json"
    other.controller.save_session(again)
    qtbot.waitUntil(lambda: "saved" in other.banner.text(), timeout=20_000)
    second = load_session(again)
    for a, b in zip(c["members"], second.comparison["members"]):
        for net in ("G", "D"):
            for name, w in a["state"][net].items():
                assert np.array_equal(w, b["state"][net][name])
        for net in ("G", "D"):
            for name, buf in a["state"]["optim"][net]["buffers"].items():
                assert np.array_equal(buf, b["state"]["optim"][net]["buffers"][name])
        assert np.array_equal(a["state"]["rng"]["state"], b["state"]["rng"]["state"])
        for name in STEP_COLUMNS:
            assert np.array_equal(a["history"][name], b["history"][name], equal_nan=True)


@pytest.mark.parametrize("key, values, says", [
    ("k", "", "value"),
    ("k", "1, 0", "k=0"),
    ("lr_d", "1e-3, x", "lr_d=x"),
    ("loss", "minimax, minimax", "twice"),
    ("seed", "1,2,3,4,5,6,7,8,9", "2 to 8"),
    ("k", "1,2,3,4,5,6,7", "2 to 6"),
])
def test_the_dialog_refuses_bad_values_in_one_line_and_keeps_them(qtbot, key, values, says):
    from ganviz.app.compare import CompareDialog

    dialog = CompareDialog(SMALL)
    qtbot.addWidget(dialog)
    dialog.key.setCurrentText(key)
    dialog.values.setText(values)
    dialog.accept()
    assert dialog.result() == 0 and dialog.result_comparison is None
    assert says in dialog.error.text() and "\n" not in dialog.error.text()
    assert dialog.values.text() == values  # nothing lost
    dialog.values.setText("1, 5" if key != "loss" else "minimax, hinge")
    dialog.key.setCurrentText("k" if key != "loss" else "loss")
    dialog.accept()
    assert dialog.result_comparison is not None and len(dialog.result_comparison) == 2


def test_a_bad_comparison_leaves_the_run_as_it_was(qtbot, make_window):
    window = make_window(SMALL)
    qtbot.waitUntil(lambda: window.controller.latest is not None, timeout=20_000)
    run = window.controller.latest.run_id
    assert not window.controller.compare("hidden=8,16")
    assert "cannot be compared" in window.banner.text()
    assert window.controller.comparison is None
    assert window.controller.latest.run_id == run


def test_a_comparison_preset_opens_its_variants_and_controls_spare_the_key(qtbot, make_window):
    window = make_window(SMALL)
    window.on_preset("compare-k-bimodal")
    c = window.controller.comparison
    assert c is not None and c.key == "k" and len(window.multiples.views) == len(c)
    qtbot.waitUntil(lambda: all(s is not None for s in c.latest), timeout=30_000)
    assert not window.controller.set_params({"k": 2})  # the compared key stays each variant's
    assert "compared key" in window.banner.text()
    assert window.controller.set_params({"lr_g": 2e-4})
    qtbot.waitUntil(lambda: all(s is not None and s.config["lr_g"] == 2e-4 for s in c.latest),
                    timeout=30_000)
    assert [s.config["k"] for s in c.latest] == list(c.values)


def test_the_small_multiples_draw_their_fields_over_the_shown_rectangle(qtbot, make_window):
    # The panels' axes are linked: moved in the first, every panel shows another area, and
    # every member draws its fields over the union of what they show, paused too.
    window = make_window(SMALL)
    window.controller.compare("k=1,2")
    c = window.controller.comparison
    qtbot.waitUntil(lambda: all(s is not None for s in c.latest), timeout=30_000)
    window.controller.pause()
    window.multiples.views[0].plot.setRange(xRange=(-9.0, 9.0), yRange=(-5.0, 5.0), padding=0)

    def covered():
        shown = [v.visible_rect() for v in window.multiples.views]
        return all(s.xs[0] <= x0 + 1e-6 and s.xs[-1] >= x1 - 1e-6
                   and s.ys[0] <= y0 + 1e-6 and s.ys[-1] >= y1 - 1e-6
                   for s in c.latest for (x0, x1), (y0, y1) in shown)

    qtbot.waitUntil(lambda: covered() and not any(v._settle.isActive()
                                                   for v in window.multiples.views),
                    timeout=30_000)


def test_a_finished_comparison_is_drawn_again_over_a_new_rectangle(qtbot, make_window):
    window = make_window(SMALL, max_steps=20)
    window.controller.compare("k=1,2")
    qtbot.waitUntil(lambda: _all_finished(window), timeout=30_000)
    c = window.controller.comparison
    wide = ((-11.0, 11.0), (-6.0, 6.0))
    window.multiples.views[0].view_changed.emit(wide)
    # Each member answers with fields over it (the panels may then follow the samples back
    # to a smaller view, and a member ask again, before the other member answered).
    seen = set()

    def redrawn():
        seen.update(i for i, s in enumerate(c.latest)
                    if s.xs[0] <= -11.0 + 1e-9 and s.ys[-1] >= 6.0 - 1e-9)
        return len(seen) == len(c.latest)

    qtbot.waitUntil(redrawn, timeout=30_000)
    assert [s.step for s in c.latest] == [20, 20]


def test_over_seeds_the_window_draws_a_raster_and_the_mean_and_standard_error(qtbot, make_window):
    from ganviz.views.multiples import mean_se_text

    window = make_window(SMALL, max_steps=40)
    assert window.controller.compare("seed=0,1,2,3")
    qtbot.waitUntil(lambda: _all_finished(window), timeout=60_000)
    window.draw_comparison(everything=True)
    c = window.controller.comparison
    finals = c.finals()
    assert all(v is not None for v in finals)
    a = np.array(finals, dtype=float)
    se = a.std(ddof=1) / np.sqrt(4)
    assert window.compare_series.summary.text() == (
        f"modes captured: {a.mean():.1f} \u00b1 {se:.1f} (s.e. over 4 seeds)")
    assert mean_se_text([2, 4]) == "modes captured: 3.0 \u00b1 1.0 (s.e. over 2 seeds)"
    image = window.compare_series.raster.image
    assert image.shape == (4, 200)  # seeds x even steps over the measured span
    assert np.array_equal(image[:, -1], a)  # the last column: each seed's latest count
    assert np.array_equal(image[:, 0], [h.measured.y("modes_captured")[0] for h in c.histories])


def test_presentation_mode_png_and_recording_take_the_small_multiples(qtbot, make_window, tmp_path):
    import imageio.v3 as iio

    window = make_window(SMALL, max_steps=30)
    assert window.controller.compare("lr_g=1e-3,3e-4")
    qtbot.waitUntil(lambda: _all_finished(window), timeout=60_000)
    rec = window.exporter.recorder
    rec.start()
    try:
        window.set_presentation(True)
        assert all(v.presenter.on for v in window.multiples.views)
        window.draw_comparison(everything=True)
        window.frame_drawn.emit()
        assert rec.frame_count >= 1  # the frame grabbed holds the multiples
        window.set_presentation(False)
        assert not any(v.presenter.on for v in window.multiples.views)
    finally:
        rec.stop()
        rec.wait()
    assert window.exporter.save_window(tmp_path / "w.png")
    image = iio.imread(tmp_path / "w.png")
    assert image[..., :3].astype(float).std() > 20


# --- events on the overlaid series --------------------------------------------------------


def test_restarts_and_changes_mark_every_variants_series(qtbot, make_window):
    window = make_window(SMALL)
    c0 = window.controller
    assert c0.compare("k=1,2")
    c = c0.comparison
    qtbot.waitUntil(lambda: all(s is not None and s.step >= 5 for s in c.latest), timeout=30_000)
    # Starting the comparison is a reset of the scenario: marked at the new runs' start.
    assert [h.events for h in c.histories] == [[(0, "reset")]] * 2
    c0.pause()
    qtbot.waitUntil(lambda: c0.paused, timeout=10_000)
    assert c0.set_params({"lr_g": 3e-4})  # hot: every variant, at one step
    at = c.latest[0].step
    assert [h.events[-1] for h in c.histories] == [(at, "lr G 0.0003")] * 2
    window.draw_comparison(everything=True)
    assert window.compare_series.marker_labels() == [(0.0, "reset"), (float(at), "lr G 0.0003")]
    assert c0.set_params({"hidden": 8})  # cold: a new run of every variant, marked as such
    qtbot.waitUntil(lambda: all(s is not None and s.config["hidden"] == 8 for s in c.latest),
                    timeout=30_000)
    assert [h.events for h in c.histories] == [[(0, "hidden changed")]] * 2
    window.draw_comparison(everything=True)
    assert window.compare_series.marker_labels() == [(0.0, "hidden changed")]
    # Markers on every panel shown, the label on the top one only.
    series = window.compare_series
    plots = {id(p) for p, _line in series.markers.items}
    assert plots == {id(series.plots[k]) for k in series._shown} and len(plots) >= 2


def _history(steps, events=()):
    from ganviz.core.history import History

    h = History()
    for step in steps:
        h.steps.append(np.array([float(step)]), {"loss_d": np.array([1.0]),
                                                 "loss_g": np.array([0.5]),
                                                 "grad_norm_g": np.array([0.1])})
    for step, label in events:
        h.mark(step, label)
    return h


def _series(qtbot, labels):
    """The overlaid series of a comparison of ``labels``, shown at a side column's size."""
    from ganviz.views.multiples import CompareSeries

    series = CompareSeries()
    qtbot.addWidget(series)
    series.resize(380, 700)
    series.show()
    series.set_members(labels)
    return series


def test_the_overlaid_js_keeps_the_single_runs_scale_when_every_variant_sits_at_ln_2(
        qtbot, pg_style):
    # A fitted axis spread 0.693147 +- 1e-6 over the panel, and its labels were too long
    # to show: variants pinned at ln 2 must read as such, on the single run's 0 - 0.76.
    from ganviz.views.timeseries import JS_RANGE

    series = _series(qtbot, ["loss=minimax", "loss=wgan"])
    histories = [_history(range(1, 201)), _history(range(1, 201))]
    for h, last in zip(histories, (math.log(2.0), math.log(2.0) - 2e-6)):
        for step in (50, 100, 200):
            h.measured.append([float(step)], {k: [last if k == "js" else np.nan]
                                              for k in h.measured.names})
    series.draw(histories)
    qtbot.waitUntil(lambda: series.plots["js"].vb.viewRange()[0][1] >= 200, timeout=5000)
    assert series.plots["js"].vb.viewRange()[1] == pytest.approx(list(JS_RANGE))


def test_the_overlaid_series_mark_each_event_once_with_labels_inside_the_top_panel(
        qtbot, pg_style):
    from ganviz.views.multiples import events_of

    series = _series(qtbot, ["k=1", "k=5"])
    a = _history(range(1, 401), [(0, "reset"), (200, "lr G 0.0003"), (390, "freeze D")])
    b = _history(range(1, 401), [(0, "reset"), (200, "lr G 0.0003"), (390, "freeze D"),
                                 (395, "only b")])
    assert events_of([a, b]) == [(0, "reset"), (200, "lr G 0.0003"), (390, "freeze D"),
                                 (395, "only b")]
    series.draw([a, b])
    vb = series.plots[series._shown[0]].vb
    qtbot.waitUntil(lambda: vb.viewRange()[0][1] > 300, timeout=5000)  # the axis ranged itself
    series._place_labels()
    assert [text for _s, text in series.marker_labels()] == ["reset", "lr G 0.0003", "freeze D",
                                                            "only b"]
    labels = [line.label for _p, line in series.markers.items if getattr(line, "label", None)]
    panel = vb.sceneBoundingRect()
    for label in labels:  # every label reads inside the top panel, none cut at its edge
        box = label.sceneBoundingRect()
        assert panel.left() - 1 <= box.left() and box.right() <= panel.right() + 1, label.format
    # Those in the right third read to the left of their lines, at other heights.
    assert labels[2].anchors[0] == (1, 0) and labels[3].anchors[0] == (1, 0)
    assert labels[2].orthoPos != labels[3].orthoPos
    series.forget()
    assert series.markers.items == []


# --- the 2-D panels share their legend and, when the scales agree, one colour bar ----------


def _drawn_multiples(qtbot, losses):
    from test_gui_views import make_snapshot

    from ganviz.views.multiples import Multiples

    m = Multiples()
    qtbot.addWidget(m)
    m.resize(700, 560)  # six panels of some 200 px: the legend inside one was cut
    m.show()
    m.set_members(2, [f"loss={x}" for x in losses])
    for i, loss in enumerate(losses):
        m.draw(i, make_snapshot(2, loss=loss, step=10 + i))
    return m


def _bar_in_layout(view) -> bool:
    layout = view.plot.layout
    return any(layout.itemAt(i) is view.cbar for i in range(layout.count()))


def test_narrow_2d_panels_share_one_legend_and_one_colour_bar(qtbot, pg_style):
    from ganviz.views.multiples import colour

    m = _drawn_multiples(qtbot, ["nonsaturating", "minimax", "lsgan", "hinge", "minimax",
                                 "lsgan"])
    # hinge draws D as a raw output on [-1.5, 1.5]: a scale of its own, so each panel keeps
    # its bar (the panels stay equally wide for their linked axes).
    assert m.shared_scale is None and not m.bar_view.isVisibleTo(m)
    assert all(_bar_in_layout(v) and v.cbar.isVisible() for v in m.views)
    from test_gui_views import make_snapshot

    m.draw(3, make_snapshot(2, loss="minimax", step=13))  # now every panel draws P(real)
    assert m.shared_scale == ("D(x) = P(real)", (0.0, 1.0))
    assert m.bar_view.isVisibleTo(m) and m.bar.levels() == (0.0, 1.0)
    assert m.bar.getAxis("left").labelText == "D(x) = P(real), every panel"
    assert not any(_bar_in_layout(v) or v.cbar.isVisible() for v in m.views)
    # One legend under the grid, none inside a panel; it wraps to the grid's width.
    assert not any(v.legend.isVisible() for v in m.views)
    text = m.legend.text()
    for entry in ("real x ~ p_data", "fake G(z), fixed z", "p_data outline"):
        assert entry in text
    for i, view in enumerate(m.views):  # each panel's own arrow scale, in its colour
        assert view.arrow_scale > 0
        assert f'<span style="color:{colour(i)}">{view.arrow_scale:.2g}</span>' in text
    qtbot.waitUntil(lambda: m.legend.height() >= m.legend.heightForWidth(m.legend.width()))
    assert m.legend.width() <= m.width()
    # A contrast or D* keeps one bar, at the new levels; a critic brings every bar back.
    m.set_contrast(2.0)
    assert m.shared_scale == ("D(x) = P(real), contrast x2", (0.25, 0.75))
    assert m.bar.levels() == (0.25, 0.75)
    m.set_heatmap("d_star")
    assert m.shared_scale[0] == "D*(x) = P(real), contrast x2"
    m.draw(1, make_snapshot(2, critic=True, step=30))
    assert m.shared_scale is None and not m.bar_view.isVisibleTo(m)
    assert all(_bar_in_layout(v) and v.cbar.isVisible() for v in m.views)
    m.set_layer("d", False)  # no heatmap: no bar anywhere
    assert not m.bar_view.isVisibleTo(m) and not any(v.cbar.isVisible() for v in m.views)


def test_the_controls_heatmap_contrast_and_arrow_gain_reach_the_panels(qtbot, make_window):
    window = make_window(SMALL)
    assert window.controller.compare("k=1,2")
    c = window.controller.comparison
    qtbot.waitUntil(lambda: all(s is not None for s in c.latest), timeout=30_000)
    window.controls.heatmap_changed.emit("gap")
    window.controls.contrast_changed.emit(3.0)
    window.controls.arrow_gain_changed.emit(10.0)
    assert all((v.heat, v.contrast, v.gain) == ("gap", 3.0, 10.0) for v in window.multiples.views)
    window.controller.compare("k=1,3")  # new panels start with the settings in force
    assert all((v.heat, v.contrast, v.gain) == ("gap", 3.0, 10.0) for v in window.multiples.views)


@pytest.mark.parametrize("dim", [1, 2])
def test_a_panel_drawn_before_the_first_after_a_new_run_waits_for_its_range(qtbot, pg_style,
                                                                           dim):
    # The panels take turns: after a restart the second may draw before the first, which
    # decides the shared range. It used to raise (no range to grow from yet).
    from test_gui_views import make_snapshot

    from ganviz.views.multiples import Multiples

    m = Multiples()
    qtbot.addWidget(m)
    m.resize(600, 400)
    m.show()
    m.set_members(dim, ["k=1", "k=2"])
    for i in (0, 1):
        m.draw(i, make_snapshot(dim, step=10 + i))
    m.forget()
    m.draw(1, make_snapshot(dim, step=20))  # before the first: nothing to grow yet
    m.draw(0, make_snapshot(dim, step=20))
    lead = m.views[0]
    shown = lead._view_range if dim == 2 else lead._xrange
    assert shown is not None
