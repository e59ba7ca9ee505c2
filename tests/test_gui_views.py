"""Each view draws a hand-made snapshot (no training, no torch in the views)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganviz.core import losses
from ganviz.core.snapshot import Snapshot
from ganviz.core.history import History, Series


def _pixels(widget) -> np.ndarray:
    """The widget as drawn now, as a flat array of bytes."""
    img = widget.grab().toImage()
    return np.frombuffer(img.constBits(), dtype=np.uint8, count=img.sizeInBytes()).copy()


def _changed(before: np.ndarray, after: np.ndarray) -> float:
    """Share of bytes that differ between two grabs of the same widget."""
    return float(np.mean(before != after))


def make_snapshot(dim: int, *, critic: bool = False, measured: bool = True, step: int = 10,
                  run_id: int = 0, loss: str | None = None) -> Snapshot:
    """A plausible snapshot built by hand: a Gaussian target, a shifted generator.

    ``loss`` (default nonsaturating, or wgan with ``critic``) sets D's drawing
    flags from the loss registry, as the probe does.
    """
    entry = losses.get(loss or ("wgan" if critic else "nonsaturating"))
    rng = np.random.default_rng(step)
    n = 64
    history = {"step": np.arange(step - 4, step + 1)}
    for k in ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "d_real", "d_fake"):
        history[k] = rng.random(5) + 0.1
    metrics = {"step": step, "js": 0.3, "w1": 0.5, "kl": 0.4,
               "modes_captured": 3.0 if dim == 2 else None,
               "modes_total": 8.0 if dim == 2 else None, "high_quality": 0.5}
    kw = {}
    if dim == 1:
        xs = np.linspace(-3, 5, 256)
        p_data = np.exp(-0.5 * ((xs - 2) / 0.5) ** 2) / (0.5 * math.sqrt(2 * math.pi))
        p_g = np.exp(-0.5 * ((xs - 0.5) / 0.7) ** 2) / (0.7 * math.sqrt(2 * math.pi))
        d = p_data / (p_data + p_g + 1e-12)
        fake = rng.normal(0.5, 0.7, (n, 1))
        z = rng.normal(size=(n, 1))
        if measured:
            kw = dict(xs=xs, p_data=p_data, p_g=p_g, d=_as_drawn(entry, d, 3),
                      d_star=_d_star(entry, p_data, p_g), real=rng.normal(2, 0.5, (n, 1)))
    else:
        xs = ys = np.linspace(-3, 3, 50)
        gx, gy = np.meshgrid(xs, ys)
        p_data = np.exp(-0.5 * ((gx - 1) ** 2 + gy**2) / 0.09) / (2 * math.pi * 0.09)
        p_g = np.exp(-0.5 * ((gx + 1) ** 2 + gy**2) / 0.25) / (2 * math.pi * 0.25)
        d = p_data / (p_data + p_g + 1e-12)
        fake = rng.normal(size=(n, 2)) * 0.5 + [-1, 0]
        z = rng.normal(size=(n, 2))
        if measured:
            centres = np.array([[1.0, 0.0], [-1.0, 0.0]])
            kw = dict(xs=xs, ys=ys, p_data=p_data, p_g=p_g, d=_as_drawn(entry, d, 5),
                      d_star=_d_star(entry, p_data, p_g), real=rng.normal(size=(n, 2)) * 0.3 + [1, 0],
                      mode_centres=centres, mode_counts=np.array([0, 12]))
    grad = rng.normal(size=fake.shape) * 0.3
    return Snapshot(
        run_id=run_id, step=step, d_updates=step, g_updates=step, config={"k": 1}, device="cpu",
        dim=dim, rate=100.0, history=history, metrics=metrics,
        fields_step=step, fake=fake, z=z, fake_grad=grad, critic=entry.critic,
        d_kind=entry.draws, d_range=entry.d_range, **kw,
    )


def _as_drawn(entry, d, scale):
    """A probability as the loss would draw it: itself, 2d - 1 for hinge, a critic's wide scores."""
    if entry.critic:
        return scale * d - (scale - 1) / 2
    return d if entry.draws == losses.PROBABILITY else 2 * d - 1


def _d_star(entry, p_data, p_g):
    return None if entry.d_star is None else entry.d_star(p_data, p_g)


def shown(qtbot, view, width: int, height: int):
    """``view`` at ``width`` x ``height`` px, shown; qtbot closes it after the test."""
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    return view


@pytest.mark.parametrize("critic", [False, True])
@pytest.mark.parametrize("measured", [True, False])
def test_1d_view_draws_a_snapshot(qtbot, pg_style, critic, measured):
    from ganviz.views.field1d import LAYERS, DensityView1D

    view = shown(qtbot, DensityView1D(), 600, 500)
    blank = _pixels(view)
    view.draw(make_snapshot(1, critic=critic, measured=measured))
    view.draw(make_snapshot(1, critic=critic, measured=measured, step=11))
    assert _changed(blank, _pixels(view)) > (0.01 if measured else 0.001)  # rug only
    if measured:
        assert view.p_g.xData is not None and len(view.p_g.xData) == 256
    for key in LAYERS:
        view.set_layer(key, False)
        view.set_layer(key, True)
    view.forget()


def test_1d_view_draws_d_on_the_scale_of_its_loss(qtbot, pg_style):
    from ganviz.views.field1d import DensityView1D

    view = shown(qtbot, DensityView1D(), 600, 500)
    view.draw(make_snapshot(1, loss="hinge"))
    lo, hi = view.dview.viewRange()[1]
    assert lo == pytest.approx(-1.5) and hi >= 1.5  # raw output, D* = sign in [-1, 1]
    assert view.d_star.isVisible()
    assert np.nanmin(view.d_star.yData) == -1.0 and np.nanmax(view.d_star.yData) == 1.0
    view.draw(make_snapshot(1, loss="lsgan", step=11))
    lo, hi = view.dview.viewRange()[1]
    assert -0.1 < lo <= 0.0 and 1.0 <= hi < 1.5  # a probability
    assert view.d_star.isVisible()
    view.draw(make_snapshot(1, loss="wgan", step=12))
    assert not view.d_star.isVisible()  # no closed form for a critic
    lo, hi = view.dview.viewRange()[1]
    d = view.d.yData
    assert lo <= d.min() and hi >= d.max() and hi - lo < 2 * (d.max() - d.min()) + 1


@pytest.mark.parametrize("critic", [False, True])
@pytest.mark.parametrize("measured", [True, False])
def test_2d_view_draws_a_snapshot(qtbot, pg_style, critic, measured):
    from ganviz.views.field2d import LAYERS, FieldView2D

    view = shown(qtbot, FieldView2D(), 600, 600)
    blank = _pixels(view)
    snap = make_snapshot(2, critic=critic, measured=measured)
    view.draw(snap)
    assert _changed(blank, _pixels(view)) > 0.01
    if measured:
        from ganviz.views.field2d import UPSAMPLE

        assert view.d_img.image.shape == (50 * UPSAMPLE, 50 * UPSAMPLE)  # interpolated
        levels = view.cbar.levels()
        if critic:  # a critic's value has no fixed range: levels follow it
            assert levels != (0.0, 1.0)
        else:
            assert tuple(levels) == (0.0, 1.0)
        view.draw(make_snapshot(2, loss="hinge", step=12))  # raw output on its fixed range
        assert tuple(view.cbar.levels()) == (-1.5, 1.5)
        view.draw(make_snapshot(2, loss="lsgan", step=13))
        assert tuple(view.cbar.levels()) == (0.0, 1.0)
    for key in LAYERS:
        view.set_layer(key, False)
        view.set_layer(key, True)
    view.set_arrow_gain(10.0)
    view.forget()


def test_time_series_draw_histories(qtbot, pg_style):
    from ganviz.views.timeseries import TimeSeriesView

    view = shown(qtbot, TimeSeriesView(), 500, 800)
    blank = _pixels(view)
    history = History()
    for step in range(5, 200, 5):
        history.add(make_snapshot(2, step=step))
    view.draw(history, make_snapshot(2, step=200))
    assert len(view.loss_d.xData) == history.steps.n
    assert view.plots["modes"].isVisible()
    assert _changed(blank, _pixels(view)) > 0.01
    history1 = History()
    history1.add(make_snapshot(1))
    view.forget()
    view.draw(history1, make_snapshot(1, critic=True))
    assert not view.plots["modes"].isVisible()  # no mixture: no modes plot


def test_arrows_are_proportional_to_the_gradient_with_a_printed_scale():
    from ganviz.views.field2d import ARROW_UNIT, scaled_arrows

    pts = np.zeros((5, 2))
    grads = np.array([[0.0, 0.0], [1e-4, 0.0], [1e-3, 0.0], [2e-3, 0.0], [2e-3, 0.0]])
    x, y, scale = scaled_arrows(pts, grads, span=6.0)
    shaft = np.hypot(x[1::6] - x[0::6], y[1::6] - y[0::6])
    assert scale == pytest.approx(2e-3)  # the 90th percentile of the norms
    assert shaft[0] == 0.0
    assert shaft[3] == pytest.approx(ARROW_UNIT * 6.0)  # |grad| = scale: a full arrow
    assert shaft[2] == pytest.approx(shaft[3] / 2) and shaft[1] == pytest.approx(shaft[3] / 20)
    assert np.all(x[1::6][1:] < 0)  # along -grad: where the generator moves the sample
    _x, _y, zero = scaled_arrows(pts, np.zeros((5, 2)), span=6.0)
    assert zero == 0.0 and np.all(_x == 0)


def test_arrows_are_a_few_dozen_spread_evenly_over_z():
    from ganviz.views.field2d import N_ARROWS, spread_over_z

    z = np.random.default_rng(0).standard_normal((512, 2))
    pick = spread_over_z(z)
    assert 0.8 * N_ARROWS <= len(pick) <= N_ARROWS and len(set(pick)) == len(pick)
    # Every quadrant of z gets about a quarter of the arrows.
    quadrants = np.bincount((z[pick, 0] > 0) * 2 + (z[pick, 1] > 0), minlength=4)
    assert quadrants.min() >= len(pick) // 4 - 3


def test_heatmaps_are_upsampled_bilinearly():
    from ganviz.views.field2d import upsample

    grid = np.array([[0.0, 1.0], [2.0, 3.0]])
    up = upsample(grid, 3)
    assert up.shape == (6, 6)
    assert up[0, 0] == 0.0 and up[-1, -1] == 3.0  # the cells' own values at the corners
    assert np.all(np.diff(up, axis=1) >= 0) and np.all(np.diff(up, axis=0) >= 0)


def test_series_bounded_memory_keeps_shape():
    s = Series(["v"], limit=1000)
    total = 0
    rng = np.random.default_rng(0)
    while total < 50_000:
        n = int(rng.integers(1, 300))
        x = np.arange(total + 1, total + n + 1)
        s.append(x, {"v": x.astype(float)})
        total += n
    assert s.n <= 1000 and s.stride > 1
    assert np.all(np.diff(s.x) > 0)
    # Block means of a straight line stay on the line, lagging by half a block.
    assert np.max(np.abs(s.y("v") - s.x)) <= s.stride
    assert s.nbytes < 64_000


def test_2d_heatmap_covers_the_grid_extent(qtbot, pg_style):
    from ganviz.views.field2d import FieldView2D

    view = FieldView2D()
    qtbot.addWidget(view)
    snap = make_snapshot(2)
    view.draw(snap)
    view.draw(make_snapshot(2, step=11))  # a second heavy refresh keeps the extent
    for img in (view.d_img, view.pg_img):
        r = img.mapRectToView(img.boundingRect())
        dx = snap.xs[1] - snap.xs[0]
        assert abs(r.left() - (snap.xs[0] - dx / 2)) < 1e-6
        assert abs(r.right() - (snap.xs[-1] + dx / 2)) < 1e-6
        assert abs(r.top() - (snap.ys[0] - dx / 2)) < 1e-6
        assert abs(r.bottom() - (snap.ys[-1] + dx / 2)) < 1e-6


def test_1d_view_draws_d_star_as_measured_and_drops_it_for_a_critic(qtbot, pg_style):
    """D* is drawn as the measurement gives it (NaN: a gap); a critic has no D* and no 1/2."""
    from dataclasses import replace

    from ganviz.views.field1d import DensityView1D

    view = shown(qtbot, DensityView1D(), 600, 500)
    snap = make_snapshot(1)
    d_star = np.array(snap.d_star, dtype=np.float64)
    d_star[:40] = np.nan  # unreliable there: the measurement says so
    view.draw(replace(snap, d_star=d_star))
    drawn = view.d_star.yData
    assert np.isnan(drawn[:40]).all() and np.allclose(drawn[40:], d_star[40:])
    assert view.d_star.isVisible() and view.half.isVisible()
    names = lambda: [label.text for _s, label in view.legend.items]  # noqa: E731
    assert any("D*" in n for n in names())

    view.draw(make_snapshot(1, critic=True, step=11))
    assert not view.d_star.isVisible() and not view.half.isVisible()
    assert not any("D*" in n for n in names())
    view.draw(make_snapshot(1, step=12))  # back to a probability: D* and 1/2 return
    assert view.d_star.isVisible() and view.half.isVisible() and any("D*" in n for n in names())


def test_1d_view_says_flat_critic_cut_peaks_and_samples_off_the_plot(qtbot, pg_style):
    from dataclasses import replace

    from ganviz.views.field1d import PEAK_CAP, DensityView1D

    view = shown(qtbot, DensityView1D(), 600, 500)
    snap = make_snapshot(1, critic=True)
    flat = np.full_like(snap.xs, 0.3) + 1e-4 * np.sin(snap.xs)  # a critic that barely varies
    spike = snap.p_g * 0 + 0.01
    spike[100] = 10 * PEAK_CAP * float(np.max(snap.p_data))  # far above the cap
    fake = np.full((64, 1), 40.0)  # beyond the farthest the plot grows (x <= 13)
    fake[:4] = 0.0
    view.draw(replace(snap, d=flat, p_g=spike, fake=fake))
    legend = lambda: [label.text for _s, label in view.legend.items]  # noqa: E731
    assert any("flat critic" in t for t in legend())  # in D's entry: nothing on the legend
    lo, hi = view.dview.viewRange()[1]
    assert hi - lo > 5e-3  # the 2e-4 wiggle is not blown up to the full height
    assert view.peak.isVisible() and f"{spike[100]:.3g}" in view.peak.toPlainText()
    assert view.edge.isVisible()
    assert "60 of 64 samples beyond x = 13" in view.edge.toPlainText()
    view.draw(make_snapshot(1, step=12))
    assert "D(x)" in legend() and not any("flat" in t for t in legend())
    assert not view.peak.isVisible() and not view.edge.isVisible()


def test_2d_view_follows_the_samples_or_marks_them_at_the_edge(qtbot, pg_style):
    from dataclasses import replace

    from ganviz.views.field2d import EXTEND_MAX, FieldView2D

    view = shown(qtbot, FieldView2D(), 600, 600)
    snap = make_snapshot(2)  # grid -3..3
    view.draw(replace(snap, fake=np.random.default_rng(0).normal(size=(64, 2)) * 0.3 + [4.5, 0]))
    (x0, x1), _ = view.plot.vb.viewRange()
    assert x1 >= 4.5 and x0 <= -3  # grown to take the samples in, the grid still in view
    assert not view.edge.isVisible()
    far = np.random.default_rng(1).normal(size=(64, 2)) * 0.3 + [0, -40]
    view.draw(replace(snap, fake=far, step=11))
    (_, _), (y0, _) = view.plot.vb.viewRange()
    assert y0 > -3 * EXTEND_MAX - 1  # not stretched to a point 40 away
    text = view.edge.toPlainText()
    assert view.edge.isVisible() and "64 of 64 samples" in text and "\u2193" in text
    view.forget()
    view.draw(make_snapshot(2, step=12))  # a new run: back to the grid, no marker
    (x0, x1), _ = view.plot.vb.viewRange()
    assert x1 < 4 and not view.edge.isVisible()


def test_measured_values_are_held_not_ramped_and_per_step_ones_smoothed():
    from ganviz.views.timeseries import held, smooth

    x, y = held([0, 100, 300], [0.69, 0.2, 0.5])
    assert list(x) == [0, 100, 100, 300, 300] and list(y) == [0.69, 0.69, 0.2, 0.2, 0.5]
    noisy = np.tile([0.0, 2.0], 50)
    s = smooth(noisy, 11)
    assert np.allclose(s[10:-10], 1.0, atol=0.1) and len(s) == len(noisy)
    with_nan = noisy.copy()
    with_nan[7] = np.nan
    assert np.isnan(smooth(with_nan, 11)[7]) and np.isfinite(smooth(with_nan, 11)[8])


def test_mode_raster_and_bars_draw_samples_per_mode(qtbot, pg_style):
    from dataclasses import replace

    from ganviz.views.timeseries import TimeSeriesView

    view = shown(qtbot, TimeSeriesView(), 500, 900)
    history = History()
    for step, counts in ((10, [0, 12]), (20, [12, 0]), (30, [6, 6])):
        snap = replace(make_snapshot(2, step=step), mode_counts=np.array(counts))
        history.add(snap)
        view.draw(history, snap)
    assert "raster" in view.shown()  # a mixture: the raster is one of the default panels
    image = view.raster.image
    assert image.shape[0] == 2  # a row per mode
    assert image[1, 0] == 1.0 and image[0, 0] == 0.0  # all on mode 1 first ...
    assert image[0, -1] == 0.5 and image[1, -1] == 0.5  # ... then evenly shared
    assert list(view.bars.opts["height"]) == [0.5, 0.5]


def test_colour_bar_ticks_always_have_short_numbers():
    from ganviz.views.field2d import nice_ticks

    ticks, unit = nice_ticks(0.0, 1.0)
    assert [t for _v, t in ticks] == ["0", "0.25", "0.5", "0.75", "1"] and unit == ""
    ticks, unit = nice_ticks(-0.0195, -0.013)  # a weight-clipped critic
    assert unit == "x 1e-2" and [t for _v, t in ticks][0] == "-1.95"
    assert all(len(t) <= 6 for _v, t in ticks)
    ticks, _ = nice_ticks(0.475, 0.525)  # contrast x 20
    assert len({t for _v, t in ticks}) == 5  # five distinct labels, none rounded together


def test_2d_view_sends_what_it_shows_and_keeps_it_when_the_grid_follows(qtbot, pg_style):
    from dataclasses import replace

    from ganviz.views.field2d import FIELD_MARGIN, FieldView2D

    view = FieldView2D()
    qtbot.addWidget(view)
    view.resize(900, 450)  # wide: the aspect-locked plot shows more x than the grid
    view.show()
    snap = make_snapshot(2)  # grid -3..3
    with qtbot.waitSignal(view.view_changed, timeout=5000) as sent:
        view.draw(snap)
    (x0, x1), (y0, y1) = sent.args[0]
    assert x0 < -4 and x1 > 4 and y0 <= -3 and y1 >= 3  # the whole visible panel
    # ... and a margin beyond each edge, so that a view following the samples a little
    # needs no new fields.
    for (a0, a1), (v0, v1) in zip(sent.args[0], view.visible_rect()):
        assert (a0, a1) == pytest.approx((v0 - FIELD_MARGIN * (v1 - v0), v1 + FIELD_MARGIN * (v1 - v0)))
    # The run answers with fields over that rectangle: drawn there, the view stays put.
    xs, ys = np.linspace(x0, x1, 90), np.linspace(y0, y1, 40)
    shape = (len(ys), len(xs))
    bigger = replace(snap, step=11, xs=xs, ys=ys, p_data=np.zeros(shape), p_g=np.zeros(shape),
                     d=np.full(shape, 0.5), d_star=np.full(shape, 0.5))
    rect = view.visible_rect()
    view.draw(bigger)
    assert view.visible_rect() == rect
    r = view.d_img.mapRectToView(view.d_img.boundingRect())
    assert r.left() <= x0 and r.right() >= x1 and r.top() <= y0 and r.bottom() >= y1
    again = []
    view.view_changed.connect(again.append)
    view._send_view()
    assert again == []  # nothing moved: nothing sent
    view.forget()
    view._send_view()
    assert again == []  # no run drawn: nothing to send


def test_fields_are_asked_again_only_when_they_no_longer_cover_the_view_or_look_coarse():
    from ganviz.views.field2d import fields_wanted

    def close(a, b):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=1e-12)

    view_rect = ((-4.0, 4.0), (-2.0, 2.0))
    asked = fields_wanted(None, view_rect)
    close(asked, ((-4.8, 4.8), (-2.4, 2.4)))  # 10% of the span beyond each edge
    assert fields_wanted(asked, view_rect) is None
    assert fields_wanted(asked, ((-4.6, 3.4), (-2.0, 2.3))) is None  # moved within the margin
    close(fields_wanted(asked, ((-5.0, 4.0), (-2.0, 2.0))), ((-5.9, 4.9), (-2.4, 2.4)))  # past it
    # Zoomed in: asked again once the fields are more than 1.6 times as wide as the view.
    assert fields_wanted(asked, ((-3.0, 3.0), (-1.5, 1.5))) is None  # 9.6 / 6.0 = 1.6
    close(fields_wanted(asked, ((-2.9, 2.9), (-1.5, 1.5))), ((-3.48, 3.48), (-1.8, 1.8)))
    assert fields_wanted(((-2.0, 6.0),), ((-1.0, 5.0),)) is None  # 1-D the same way
    close(fields_wanted(((-2.0, 6.0),), ((-1.0, 7.0),)), ((-1.8, 7.8),))


def test_a_pan_or_zoom_holds_the_view_until_the_a_button_lets_it_follow_again(qtbot, pg_style):
    # Zoomed into a mode, a teacher's view must not jump back at the next frame because
    # the follow-the-samples rule wanted another range.
    from dataclasses import replace

    from ganviz.views.field2d import FieldView2D

    view = shown(qtbot, FieldView2D(), 600, 600)
    snap = make_snapshot(2)
    view.draw(snap)
    vb = view.plot.vb
    vb.setRange(xRange=(0.5, 1.5), yRange=(-0.5, 0.5), padding=0)
    vb.sigRangeChangedManually.emit([True, True])  # what a drag or the wheel sends
    zoomed = view.visible_rect()
    far = np.random.default_rng(1).normal((7.0, 0.0), 0.2, (64, 2))  # samples beyond the grid
    view.draw(replace(snap, step=11, fake=far))
    assert view.held() and view.visible_rect() == zoomed
    assert view.edge.isVisible()  # the samples off the plot are still marked
    view.plot.autoBtn.clicked.emit(view.plot.autoBtn)  # "A": follow the samples again
    assert not view.held()
    (x0, x1), _ = view.visible_rect()
    assert x0 <= -3 and x1 >= far[:, 0].max()  # the grid and the samples, as before the zoom
    view.forget()
    assert not view.held()


def test_linked_panels_hold_together(qtbot, pg_style):
    from dataclasses import replace

    from ganviz.views.multiples import Multiples

    m = shown(qtbot, Multiples(), 700, 400)
    m.set_members(2, ["k=1", "k=5"])
    snaps = [make_snapshot(2, step=10 + i) for i in range(2)]
    for i, snap in enumerate(snaps):
        m.draw(i, snap)
    m.views[1].plot.vb.setRange(xRange=(0.0, 2.0), yRange=(-1.0, 1.0), padding=0)
    m.views[1].plot.vb.sigRangeChangedManually.emit([True, True])  # zoomed in the second panel
    rect = m.views[0].visible_rect()
    far = np.random.default_rng(2).normal((0.0, 7.0), 0.2, (64, 2))
    for i, snap in enumerate(snaps):
        m.draw(i, replace(snap, step=20, fake=far))
    assert all(v.held() for v in m.views) and m.views[0].visible_rect() == rect
    m.views[0].plot.autoBtn.clicked.emit(m.views[0].plot.autoBtn)
    for i, snap in enumerate(snaps):
        m.draw(i, replace(snap, step=21, fake=far))
    assert not any(v.held() for v in m.views)
    assert all(v.visible_rect()[1][1] >= far[:, 1].max() for v in m.views)


def test_1d_view_grows_to_take_the_samples_in_and_sends_its_range(qtbot, pg_style):
    from dataclasses import replace

    from ganviz.views.field1d import DensityView1D

    view = shown(qtbot, DensityView1D(), 600, 500)
    snap = make_snapshot(1)  # grid -3..5
    fake = np.random.default_rng(0).normal(9.0, 0.3, (64, 1))  # right of the grid
    with qtbot.waitSignal(view.view_changed, timeout=5000) as sent:
        view.draw(replace(snap, fake=fake))
    ((x0, x1),) = sent.args[0]
    assert x0 <= -3 and x1 >= fake.max()
    assert not view.edge.isVisible()  # in view: nothing to mark
    view.forget()
    view.draw(make_snapshot(1, step=12))  # a new run: back to the target's extent
    assert view.visible_rect()[0] == pytest.approx((-3.0, 5.0))


def test_p_g_mass_levels_match_the_gaussian_closed_form():
    from ganviz.views.field2d import mass_levels

    # For an isotropic 2-D Gaussian the region above a share s of the peak holds 1 - s of
    # the mass: the 50% line is at half the peak, the 90% line at a tenth.
    g = np.linspace(-8, 8, 401)
    gx, gy = np.meshgrid(g, g)
    p = np.exp(-0.5 * (gx**2 + gy**2)) / (2 * math.pi)
    peak = p.max()
    half, ninety = mass_levels(p)
    assert half == pytest.approx(0.5 * peak, rel=0.02)
    assert ninety == pytest.approx(0.1 * peak, rel=0.02)
    assert mass_levels(np.zeros((5, 5))) == []


def test_2d_heatmap_shows_d_d_star_or_their_gap_and_p_g_lines_on_request(qtbot, pg_style):
    from ganviz.views.field2d import FieldView2D, upsample

    view = shown(qtbot, FieldView2D(), 600, 600)
    snap = make_snapshot(2)
    d_star = np.array(snap.d_star, dtype=np.float64)
    d_star[:5] = np.nan  # blank where p_g's estimate is too thin
    from dataclasses import replace
    snap = replace(snap, d_star=d_star)
    view.draw(snap)
    np.testing.assert_allclose(view.d_img.image, upsample(snap.d))
    view.set_heatmap("d_star")
    np.testing.assert_allclose(view.d_img.image, upsample(d_star))
    assert "D*(x)" in view.cbar.getAxis("left").labelText
    view.set_heatmap("gap")
    np.testing.assert_allclose(view.d_img.image, upsample(snap.d - d_star))
    assert tuple(view.cbar.levels()) == (-1.0, 1.0)  # a difference of probabilities
    assert np.isnan(view.d_img.image[0]).all()  # blank stays blank
    with pytest.raises(ValueError, match="accepted: d, d_star, gap"):
        view.set_heatmap("dd")
    critic = make_snapshot(2, critic=True, step=11)
    view.draw(critic)  # no D* for a critic: D itself, and the bar says why
    np.testing.assert_allclose(view.d_img.image, upsample(critic.d))
    assert "critic" in view.cbar.getAxis("left").labelText
    # p_g's contour lines: off until asked for, then two closed lines and a legend entry.
    assert not view.pg_lines[0].isVisible() and view.pg_lines[0].xData is None
    view.set_layer("p_g_lines", True)
    assert view.pg_lines[0].isVisible() and len(view.pg_lines[0].xData) > 10
    assert len(view.pg_lines[1].xData) > len(view.pg_lines[0].xData) // 2
    names = [label.text for _s, label in view.legend.items]
    assert any("90%" in n for n in names)
    view.set_layer("p_g_lines", False)
    assert not any("90%" in label.text for _s, label in view.legend.items)


def test_d_panel_restarts_its_scale_after_a_switch_to_a_critic(qtbot, pg_style):
    from ganviz.views.timeseries import TimeSeriesView

    view = shown(qtbot, TimeSeriesView(), 500, 900)
    history = History()
    for step in (10, 20):  # probabilities first
        snap = make_snapshot(2, step=step)
        history.add(snap)
        view.draw(history, snap)
    assert min(view.d_real.xData) == 6 and not view._dout_switch.isVisible()
    critic = make_snapshot(2, step=30, critic=True)  # its rows: iterations 26-30
    history.add(critic)
    view.draw(history, critic)
    # Only the critic's rows share the axis now; a line and the title say where it switched.
    assert min(view.d_real.xData) == 26 and min(view.d_fake_raw.xData) == 26
    assert view._dout_switch.isVisible() and view._dout_switch.value() == 26
    title = view.plots["dout"].titleLabel.text
    assert "critic(real)" in title and "since it. 26" in title
    assert not view.half.isVisible()  # no 1/2 for a critic
    view.forget()
    assert not view._dout_switch.isVisible() and view._dout_from is None


def test_event_labels_stay_inside_and_do_not_cover_each_other(qtbot, pg_style):
    from ganviz.views.timeseries import TimeSeriesView

    view = shown(qtbot, TimeSeriesView(), 420, 800)
    history = History()
    for step in range(10, 400, 10):
        snap = make_snapshot(2, step=step)
        history.add(snap)
        if step in (200, 390):
            history.mark(step, "loss: wgan" if step == 200 else "session opened")
    view.draw(history, snap)
    loss = view.plots["loss"].vb
    qtbot.waitUntil(lambda: loss.viewRange()[0][1] > 300, timeout=5000)  # the axis ranged itself
    view._place_labels()
    labels = [line.label for _p, line in view._markers if getattr(line, "label", None)]
    assert [lab.format for lab in labels] == ["loss: wgan", "session opened"]
    # The one in the right third reads to the left of its line, lower down: no overlap.
    assert labels[0].anchors[0] == (0, 0) and labels[1].anchors[0] == (1, 0)
    assert labels[0].orthoPos == 0.97 and labels[1].orthoPos < 0.97



@pytest.mark.parametrize("dim", [1, 2])
def test_linked_panels_show_one_range_that_takes_in_every_panels_samples(qtbot, pg_style, dim):
    """Small multiples: one range for all panels, the union of what each panel's samples
    need, and it stays put while they are drawn again (no panel pulls it back to its own)."""
    from dataclasses import replace

    from ganviz.views.multiples import Multiples

    grid = shown(qtbot, Multiples(), 900, 500)
    grid.set_members(dim, ["left", "right"])
    rng = np.random.default_rng(0)
    shift = np.zeros(dim)
    shift[0] = 1.0
    snaps = [replace(make_snapshot(dim), fake=rng.normal(size=(64, dim)) * 0.2 + s * shift)
             for s in (-6.0, 7.0)]  # one panel's samples left of the grid, the other's right
    changes = []
    grid.views[0].plot.vb.sigRangeChanged.connect(lambda *_: changes.append(1))
    for i, snap in reversed(list(enumerate(snaps))):  # a later panel's snapshot comes first
        grid.draw(i, snap)
    for view in grid.views:
        x0, x1 = view.plot.vb.viewRange()[0]
        assert x0 <= -6.0 and x1 >= 7.0, (x0, x1)  # both panels' samples are in view
    ranges = [v.plot.vb.viewRange() for v in grid.views]
    changes.clear()
    for _ in range(3):  # drawn again and again: the range stays
        for i, snap in enumerate(snaps):
            grid.draw(i, replace(snap, step=snap.step + 1))
    assert changes == []
    assert [v.plot.vb.viewRange() for v in grid.views] == ranges


def test_mode_rings_and_the_arrow_legend_follow_each_snapshot(qtbot, pg_style):
    """What a panel keeps from the last frame (the rings' pens, the arrows' rows, the legend
    text) is redrawn as soon as the snapshot says otherwise: a mode lost, a new scale."""
    from dataclasses import replace

    from PySide6.QtCore import Qt

    from ganviz.views.field2d import FieldView2D

    view = shown(qtbot, FieldView2D(), 600, 600)
    snap = make_snapshot(2)  # modes (1, 0) missed, (-1, 0) captured
    view.draw(snap)
    styles = lambda: [p.style() for p in view.modes.data["pen"]]  # noqa: E731
    assert styles() == [Qt.PenStyle.DashLine, Qt.PenStyle.SolidLine]
    view.draw(replace(snap, step=11, mode_counts=np.array([5, 0])))  # the other way round
    assert styles() == [Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine]
    label = lambda: next(lab.text for s, lab in view.legend.items if s.item is view.arrows)  # noqa: E731
    first = label()
    view.draw(replace(snap, step=12, fake_grad=snap.fake_grad * 10))
    assert label() != first and f"{view.arrow_scale:.2g}" in label()
    assert view.arrow_scale == pytest.approx(10 * float(first.split("|grad| ")[1].rstrip(")")),
                                             rel=0.05)


def test_linked_panels_send_the_union_of_what_they_show(qtbot, pg_style):
    """Panels of different widths show different rectangles (the aspect is locked): the
    run is asked for fields over their union, so that each panel is covered."""
    from ganviz.views.multiples import Multiples

    grid = Multiples()
    qtbot.addWidget(grid)
    grid.set_members(2, ["a", "b", "c"])
    sent = []
    grid.view_changed.connect(sent.append)
    # One change of the linked range, reported by each panel in turn: one request.
    grid.views[0].view_changed.emit(((-4.0, 4.0), (-3.0, 3.0)))
    grid.views[2].view_changed.emit(((-5.0, 3.5), (-2.0, 3.5)))
    grid.views[1].view_changed.emit(((-4.5, 3.9), (-2.5, 3.4)))
    qtbot.waitUntil(lambda: len(sent) == 1, timeout=2000)
    qtbot.wait(200)
    assert sent == [((-5.0, 4.0), (-3.0, 3.5))]
    grid.views[1].view_changed.emit(((-4.5, 4.5), (-2.5, 3.4)))  # it grew
    qtbot.waitUntil(lambda: len(sent) == 2, timeout=2000)
    assert sent[-1] == ((-5.0, 4.5), (-3.0, 3.5))


def test_mode_raster_draws_a_reopened_sessions_counts(qtbot, pg_style):
    """A history loaded from a session (no snapshot yet) fills the raster and the bars."""
    from ganviz.views.timeseries import TimeSeriesView

    view = shown(qtbot, TimeSeriesView(), 500, 900)
    history = History()
    history.load({"step": np.array([10.0, 20.0])},
                 {"step": np.array([10.0, 20.0]), "js": np.array([0.5, 0.4]),
                  "modes_total": np.array([2.0, 2.0]),
                  "mode_count_0": np.array([0.0, 6.0]), "mode_count_1": np.array([12.0, 6.0])})
    view.draw(history, None)
    image = view.raster.image
    assert image is not None and image.shape[0] == 2
    assert image[1, 0] == 1.0 and image[0, -1] == 0.5
    assert list(view.bars.opts["height"]) == [0.5, 0.5]


def test_a_short_log_axis_over_many_decades_labels_every_few(qapp):
    from ganviz.views.timeseries import DecadeAxis

    axis = DecadeAxis("left")
    axis.setLogMode(False, True)
    # 60 px for 1e-5 .. 1e1: seven decade labels would overlap; every third fits.
    assert axis.tickValues(-5, 1.2, 60) == [(3.0, [-5.0, -2.0, 1.0])]
    tall = axis.tickValues(-5, 1.2, 400)
    assert tall[0] == (1.0, [-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0]) and len(tall) == 2
