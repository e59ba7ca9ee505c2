"""The 1-D view: Goodfellow et al. 2014, Figure 1, made live.

Top: p_data (exact), p_g (estimated), and on the right axis D(x) beside the
optimal D*(x) = p_data / (p_data + p_g). Below, on the same x axis: the map
z -> x = G(z) drawn as lines from the noise line to the data line, and a rug
of the generated samples.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Signal

from . import style
from .field2d import (
    EXTEND_MAX, SHRINK_AT, VIEW_SETTLE_MS, HoldsOnMouse, fields_wanted, target_extent,
    view_settled,
)

LAYERS = {
    "p_data": "p_data (exact)",
    "p_g": "p_g (estimated)",
    "d": "D(x)",
    "d_star": "optimal D*(x)",
    "rug": "generated samples (rug)",
    "mapping": "z -> x mapping lines",
}
#: Hover texts (rich text): one per plot, per legend entry and per layer toggle.
TIPS = {
    "plot": "<b>Densities and the discriminator</b> (Goodfellow et al. 2014, Figure 1)<br>"
            "<b>p<sub>data</sub></b> (green): the target, drawn from its exact density.<br>"
            "<b>p<sub>g</sub></b> (orange): the generator's distribution, a smoothed estimate "
            "from 10<sup>4</sup> or more samples of G(z).<br>"
            "<b>D(x)</b> (blue, right axis): D's probability that x is real.<br>"
            "<b>D*(x)</b> (dashed): the best possible D for the current G, "
            "p<sub>data</sub>(x) / (p<sub>data</sub>(x) + p<sub>g</sub>(x)).<br>"
            "At the end of a good run p<sub>g</sub> = p<sub>data</sub> and D* = 1/2 everywhere. "
            "With a WGAN critic D(x) is a score, not a probability, and D* is not drawn. "
            "With the hinge loss D(x) is D's raw output (right axis -1.5 to 1.5) and "
            "D* = sign(p<sub>data</sub> - p<sub>g</sub>).",
    "strip": "<b>The generator as a map z &rarr; x = G(z)</b><br>"
             "Each line joins a noise value z (bottom line, spread so that equal stretches hold "
             "equal probability under N(0, 1)) to the point x = G(z) it becomes (top line).<br>"
             "Where lines bunch together G squeezes probability mass: p<sub>g</sub> is high "
             "there; where they fan out it is low. The ticks above the top line are the "
             "generated samples.",
    "p_data": "p<sub>data</sub>(x): the target density, exact (not a histogram)",
    "p_g": "p<sub>g</sub>(x): the generator's density, a Gaussian kernel estimate from "
           "10<sup>4</sup> or more samples G(z)",
    "d": "D(x): the discriminator's probability that x is real (right axis). "
         "Where D > 1/2 it thinks x real, where D < 1/2 fake",
    "d_star": "D*(x) = p<sub>data</sub>(x) / (p<sub>data</sub>(x) + p<sub>g</sub>(x)): the "
              "optimal discriminator for the current G (Goodfellow et al. 2014, Prop. 1). "
              "It is 1/2 where the two densities are equal and 1 where only data lies. "
              "Freeze G and D converges towards it",
    "rug": "A tick above the x line for each generated sample G(z)",
    "mapping": "Lines from z to x = G(z): bunching lines mean high p<sub>g</sub>",
}
#: Hover text of each layer's toggle in the controls.
LAYER_TIPS = {key: TIPS[key] for key in LAYERS}
#: D's axis: [0, 1] in the lower three quarters, the legend above.
D_RANGE = (-0.02, 1.32)
D_TICKS = [[(v, f"{v:g}") for v in (0.0, 0.25, 0.5, 0.75, 1.0)]]
HEADROOM = 1.3
#: Mapping lines drawn (a subset of the shown samples, evenly spread in z).
N_LINES = 48


#: p_g is drawn up to this many times p_data's peak; a higher peak is cut and labelled.
PEAK_CAP = 4.0
#: A critic whose values vary by less than this (relative to their size) over the grid is
#: called flat: its axis keeps at least this relative span instead of blowing noise up.
FLAT_CRITIC = 1e-2


def _phi(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (places z ~ N(0, 1) uniformly along the noise line)."""
    erf = np.vectorize(math.erf, otypes=[float])
    return 0.5 * (1.0 + erf(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)))


class DensityView1D(HoldsOnMouse, pg.GraphicsLayoutWidget):
    """p_data, p_g, D(x) and D*(x) on one x axis; the z -> x map and a rug below."""

    #: The visible x range ((x0, x1),), data units, once it settled after a change, with a
    #: margin (fields_wanted): the run then draws p_g, D and D* over it (Probe.set_view).
    view_changed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plot = self.addPlot(row=0, col=0)
        style.style_plot(self.plot, "Densities and the discriminator", left="density",
                         bottom=None)
        self.plot.setMenuEnabled(False)
        self.plot.showAxis("right")
        self.dview = pg.ViewBox()
        self.plot.scene().addItem(self.dview)
        right = self.plot.getAxis("right")
        right.linkToView(self.dview)
        right.setLabel("D(x)", **{"font-size": f"{style.FONT_SIZE}pt", "color": style.DISC})
        right.setStyle(tickFont=style.TICK_FONT)
        right.setTicks(D_TICKS)
        self.dview.setXLink(self.plot)
        self.dview.setYRange(*D_RANGE, padding=0)
        self.dview.setMouseEnabled(x=False, y=False)
        self.plot.vb.sigResized.connect(self._sync_views)
        self.legend = style.legend(self.plot)

        data_fill = pg.mkBrush(78, 224, 122, 60)
        self.p_data = pg.PlotDataItem(pen=style.pen(style.DATA, 2.5), fillLevel=0.0,
                                      brush=data_fill)
        self.p_g = pg.PlotDataItem(pen=style.pen(style.GEN, 3.0))
        self.d = pg.PlotDataItem(pen=style.pen(style.DISC, 2.5))
        self.d_star = pg.PlotDataItem(pen=style.pen(style.OPTIMAL, 1.8, dash=True), connect="finite")
        self.half = pg.InfiniteLine(pos=0.5, angle=0, pen=pg.mkPen("#555", width=1))
        self.plot.addItem(self.p_data)
        self.plot.addItem(self.p_g)
        self.dview.addItem(self.half)
        self.dview.addItem(self.d)
        self.dview.addItem(self.d_star)
        self.legend.addItem(self.p_data, "p_data (exact)")
        self.legend.addItem(self.p_g, "p_g (from 10^4 samples)")
        self.legend.addItem(self.d, "D(x)")
        self.legend.addItem(self.d_star, "D*(x) = p_data / (p_data + p_g)")

        self.strip = self.addPlot(row=1, col=0)
        style.style_plot(self.strip, None, bottom="x")
        self.strip.setMenuEnabled(False)
        self.strip.setXLink(self.plot)
        self.strip.setYRange(-0.12, 1.35, padding=0)
        self.strip.setMouseEnabled(x=True, y=False)
        self.strip.getAxis("left").setTicks([[(0.0, "z"), (1.0, "x")]])
        for plot in (self.plot, self.strip):  # equal axis widths keep the x axes aligned
            plot.getAxis("left").setWidth(56)
            plot.showAxis("right")
            plot.getAxis("right").setWidth(74)  # a critic's "-0.015" beside the axis label
        self.strip.getAxis("right").setTicks([[]])
        self.strip.getAxis("right").setStyle(showValues=False)
        self.ci.layout.setRowStretchFactor(0, 3)
        self.ci.layout.setRowStretchFactor(1, 1)
        self.z_line = pg.InfiniteLine(pos=0.0, angle=0, pen=pg.mkPen("#777", width=1.5))
        self.x_line = pg.InfiniteLine(pos=1.0, angle=0, pen=pg.mkPen("#777", width=1.5))
        # 1 px lines: wider antialiased ones cost Qt some 30 ms a frame here.
        self.mapping = pg.PlotDataItem(pen=pg.mkPen(255, 138, 61, 150, width=1), connect="pairs")
        self.rug = pg.PlotDataItem(pen=pg.mkPen(255, 138, 61, 150, width=1), connect="pairs")
        for item in (self.z_line, self.x_line, self.mapping, self.rug):
            self.strip.addItem(item)

        self.items = {"p_data": (self.p_data,), "p_g": (self.p_g,), "d": (self.d,),
                      "d_star": (self.d_star,), "rug": (self.rug,), "mapping": (self.mapping,)}
        self.plot.setToolTip(TIPS["plot"])
        self.strip.setToolTip(TIPS["strip"])
        for (_sample, label), key in zip(self.legend.items, ("p_data", "p_g", "d", "d_star")):
            label.setToolTip(TIPS[key])
        self.presenter = style.Presenter()
        for plot in (self.plot, self.strip):
            self.presenter.plot(plot)
        self.presenter.legend(self.legend)
        for item in (self.p_data, self.p_g, self.d, self.d_star, self.mapping, self.rug):
            self.presenter.curve(item)
        for line in (self.half, self.z_line, self.x_line):
            self.presenter.line(line)
        # Marks: a cut p_g peak, samples beyond the plot.
        self.peak = pg.TextItem("", color=style.GEN, anchor=(0, 0), fill=pg.mkBrush(20, 20, 24, 210))
        self.edge = pg.TextItem("", color=style.GEN, anchor=(1, 0), fill=pg.mkBrush(20, 20, 24, 210))
        for item in (self.peak, self.edge):
            item.setZValue(10)
            item.setVisible(False)
            self.plot.addItem(item, ignoreBounds=True)
        self._d_star_in_legend = True
        self.visible = {name: True for name in LAYERS}
        self._drawn: dict = {}
        self._ymax = None
        self._last = None
        self._extent = None  # (x0, x1) of the target: where the view starts
        self._xrange = None  # (x0, x1) shown: the extent, grown to take in the samples
        self._sent_view = None
        self.shared = None  # linked panels' SharedRange (views.multiples): it sets the ranges
        self._hold_on_mouse()
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(VIEW_SETTLE_MS)
        self._settle.timeout.connect(self._send_view)
        self.plot.vb.sigXRangeChanged.connect(lambda *_: self._settle.start())

    def visible_rect(self):
        """((x0, x1),) the plot shows now, data units."""
        x0, x1 = self.plot.vb.viewRange()[0]
        return ((float(x0), float(x1)),)

    def settled(self) -> bool:
        """Whether the fields drawn cover what the view shows: no view change on its way."""
        return view_settled(self, self._last)

    def _send_view(self) -> None:
        if self._extent is None:  # no run drawn yet
            return
        rect = fields_wanted(self._sent_view, self.visible_rect())
        if rect is not None:
            self._sent_view = rect
            self.view_changed.emit(rect)

    def _leads(self) -> bool:
        """Whether this view sets its own ranges (not a linked panel after the first)."""
        return self.shared is None or self.shared.leads(self)

    def _set_xrange(self, x0: float, x1: float) -> None:
        self._xrange = (x0, x1)
        if self._leads():
            self.plot.setXRange(x0, x1, padding=0.0)
            self.plot.disableAutoRange(axis="x")

    def has_range(self) -> bool:
        """Whether a run was drawn, so that the view has a range to keep or grow."""
        return self._extent is not None

    def apply_range(self, kind: str, want) -> None:
        """Show ``want`` if the view must change. ``kind`` "x": (x0, x1), grown at once and
        shrunk once the view is SHRINK_AT times wider than needed; "y": the left axis' top,
        changed only when it must (no jitter)."""
        if kind == "x":
            v0, v1 = self._xrange or self._extent
            inside = v0 <= want[0] and want[1] <= v1
            if not inside or (v1 - v0) > SHRINK_AT * (want[1] - want[0]):
                self._set_xrange(*want)
        elif self._ymax is None or want > self._ymax or want < 0.7 * self._ymax:
            self._ymax = want
            if self._leads():
                self.plot.setYRange(0.0, want, padding=0.0)
                self.plot.disableAutoRange(axis="y")

    def adopt_range(self, kind: str, leader) -> None:
        """Take the range ``leader`` (the first of linked panels) decided."""
        if kind == "x":
            self._xrange = leader._xrange
        else:
            self._ymax = leader._ymax

    def _follow_samples(self, x: np.ndarray) -> None:
        """Grow the x range to take in the generated samples, within EXTEND_MAX times the
        target's extent; shrink back once it is SHRINK_AT times wider than they need."""
        if self._extent is None or not len(x):
            return
        e0, e1 = self._extent
        span, mid = e1 - e0, 0.5 * (e0 + e1)
        reach = 0.5 * span * EXTEND_MAX
        lo, hi = np.percentile(x, [1, 99])
        pad = 0.05 * span
        want = (max(min(e0, lo - pad), mid - reach), min(max(e1, hi + pad), mid + reach))
        if self.shared is not None:  # linked panels: one range takes in every panel's samples
            self.shared.want(self, "x", want)
        elif not self._held:
            self.apply_range("x", want)

    def _sync_views(self) -> None:
        self.dview.setGeometry(self.plot.vb.sceneBoundingRect())
        self.dview.linkedViewChanged(self.plot.vb, self.dview.XAxis)

    def add_overlay(self, item) -> None:
        """Host an interactive item (:mod:`ganviz.views.draw`) in D's view box, which lies on
        top and gets the mouse first: x in data units, y from 0 to about 1."""
        self.dview.addItem(item, ignoreBounds=True)
        item.present(self.presenter)

    def set_presentation(self, on: bool) -> None:
        """Large text, thick lines (a projector) when ``on``; exactly the normal look when off."""
        self.presenter.set(on)

    def set_layer(self, name: str, on: bool) -> None:
        """Show or hide one layer (a key of LAYERS)."""
        self.visible[name] = bool(on)
        for item in self.items[name]:
            item.setVisible(bool(on))

    def _follow_again(self, leader) -> None:
        if leader._xrange is not None:
            leader._set_xrange(*leader._xrange)
        if leader._ymax is not None:
            leader.plot.setYRange(0.0, leader._ymax, padding=0.0)
            leader.plot.disableAutoRange(axis="y")
        if self._last is not None and self._last.fake is not None:
            x = np.asarray(self._last.fake, dtype=np.float64)[:, 0]
            self._follow_samples(x[np.isfinite(x)])

    def forget(self) -> None:  # not clear(): GraphicsLayoutWidget binds that to its layout
        """Forget the drawn run (a new one is coming)."""
        self._drawn.clear()
        self._ymax = None
        self._last = None
        self._extent = self._xrange = self._sent_view = None
        self._held = False
        for item in (self.peak, self.edge):
            item.setVisible(False)

    def draw(self, snap) -> None:
        """Draw a 1-D snapshot; grid curves only when their arrays changed."""
        self._last = snap
        xs = snap.xs
        if xs is not None:
            if self._extent is None:  # a new run: the view starts at the target's extent
                ext = target_extent(snap)
                self._extent = tuple(ext[0]) if ext else (float(xs[0]), float(xs[-1]))
                self._set_xrange(*self._extent)
            # Later grids follow the view (the run draws over what is shown): the view stays.
            if snap.p_data is not None and self._changed("p_data", snap.p_data):
                self.p_data.setData(xs, snap.p_data)
            if snap.p_g is not None and self._changed("p_g", snap.p_g):
                self.p_g.setData(xs, np.nan_to_num(snap.p_g))
                self._fit_y(snap)
            if snap.d is not None and self._changed("d", snap.d):
                d = np.asarray(snap.d)
                self._d_axis(snap, d)
                self.d.setData(xs, d)
            self._show_d_star(snap.d_star is not None)
            # D* as measured: NaN (a gap) where the estimate of p_g cannot be trusted.
            if snap.d_star is not None and self._changed("d_star", snap.d_star):
                self.d_star.setData(xs, np.asarray(snap.d_star, dtype=np.float64))
        if snap.fake is not None:
            x = np.asarray(snap.fake, dtype=np.float64)[:, 0]
            self._follow_samples(x[np.isfinite(x)])
            self._draw_samples(snap)
            self._mark_off_plot(snap)

    def _show_d_star(self, defined: bool) -> None:
        """D* and the 1/2 line only where the loss has them (not for a critic)."""
        self.d_star.setVisible(defined and self.visible["d_star"])
        probability = self._drawn.get("d_axis") not in ("critic",) and (
            not isinstance(self._drawn.get("d_axis"), tuple)
            or self._drawn["d_axis"][0] == "probability")
        self.half.setVisible(defined and probability)
        if defined != self._d_star_in_legend:
            self._d_star_in_legend = defined
            if defined:
                self.legend.addItem(self.d_star, "D*(x) = p_data / (p_data + p_g)")
                self.legend.items[-1][1].setToolTip(TIPS["d_star"])
                if self.presenter.on:
                    label = self.legend.items[-1][1]
                    label.setText(label.text, size=self.legend.opts["labelTextSize"])
            else:
                self.legend.removeItem(self.d_star)

    def _clear_of_legend(self, text: pg.TextItem) -> None:
        """Move ``text`` to the other side of its point if it falls under the legend, and
        hide it if it still does (the legend's p_g entry says the peak is cut too)."""
        text.setAnchor((0, 0))
        if not text.isVisible() or self.plot.scene() is None:
            return
        legend = self.legend.sceneBoundingRect()
        for anchor in ((0, 0), (1, 0)):
            text.setAnchor(anchor)
            text.updateTextPos() if hasattr(text, "updateTextPos") else None
            if not text.sceneBoundingRect().intersects(legend):
                return
        text.setVisible(False)

    def _d_label(self, text: str) -> None:
        """D's legend entry (a flat critic says so there)."""
        for sample, label in self.legend.items:
            if sample.item is self.d and label.text != text:
                label.setText(text, size=self.legend.opts["labelTextSize"])
                self.legend.updateSize()

    def _p_g_label(self, text: str) -> None:
        """The legend's p_g entry (it says so when the peak is cut: the legend is never hidden)."""
        for sample, label in self.legend.items:
            if sample.item is self.p_g and label.text != text:
                label.setText(text, size=self.legend.opts["labelTextSize"])
                self.legend.updateSize()

    def _mark_off_plot(self, snap) -> None:
        """Say how many generated samples lie beyond the plot's x range, and where."""
        if self._xrange is None:
            return
        x = np.asarray(snap.fake, dtype=np.float64)[:, 0]
        x = x[np.isfinite(x)]
        x0, x1 = self._xrange
        left, right = x[x < x0], x[x > x1]
        if not len(left) and not len(right):
            self.edge.setVisible(False)
            return
        side = right if len(right) >= len(left) else left
        arrow, at = ("\u2192", x1) if side is right else ("\u2190", x0)
        self.edge.setText(f"{arrow} {len(side)} of {len(x)} samples beyond x = {at:.3g}, "
                          f"near x = {float(np.median(side)):.3g}")
        self.edge.setAnchor((1, 0) if side is right else (0, 0))
        top = self._ymax or 1.0
        self.edge.setVisible(True)
        legend = self.legend.sceneBoundingRect()
        for height in (0.72, 0.5, 0.3):  # lower down while the legend would cover it
            self.edge.setPos(at, height * top)
            if self.plot.scene() is None or not self.edge.sceneBoundingRect().intersects(legend):
                break

    def _d_axis(self, snap, d: np.ndarray) -> None:
        """D's axis as the loss registry says: a probability, a fixed raw range, or fitted."""
        if snap.d_range is None:  # a critic's scores have no range: fit them to the axis
            self._critic_axis(self._on_plot(snap.xs, d))
            return
        self._d_label("D(x)")
        key = (snap.d_kind, tuple(snap.d_range))
        if self._drawn.get("d_axis") == key:
            return
        self._drawn["d_axis"] = key
        right = self.plot.getAxis("right")
        if snap.d_kind == "probability":
            self.dview.setYRange(*D_RANGE, padding=0)
            right.setLabel("D(x)")
            right.setTicks(D_TICKS)
        else:  # the range in the lower part, the legend above, as for a probability
            lo, hi = snap.d_range
            self.dview.setYRange(lo, lo + HEADROOM * (hi - lo), padding=0)
            right.setLabel("D(x), raw output")
            right.setTicks([[(v, f"{v:g}") for v in np.arange(np.ceil(lo * 2), np.floor(hi * 2) + 1) / 2]])

    def _critic_axis(self, d: np.ndarray) -> None:
        finite = d[np.isfinite(d)]
        if not finite.size:
            return
        lo, hi = float(finite.min()), float(finite.max())
        least = FLAT_CRITIC * max(1.0, float(np.abs(finite).max()))
        flat = hi - lo < least
        # Said in D's legend entry: a text of its own sat on the legend.
        self._d_label(f"D(x): flat critic, varies by {hi - lo:.2g} over the plot" if flat
                      else "D(x)")
        if flat:  # keep a readable span: a 0.001 wiggle is not drawn full height
            mid = 0.5 * (lo + hi)
            lo, hi = mid - least / 2, mid + least / 2
        pad = 0.05 * (hi - lo or 1.0)
        self.dview.setYRange(lo - pad, hi + (HEADROOM - 1) * (hi - lo or 1.0) + pad, padding=0)
        if self._drawn.get("d_axis") != "critic":
            self._drawn["d_axis"] = "critic"
            self.plot.getAxis("right").setLabel("critic D(x)")
            self.plot.getAxis("right").setTicks(None)

    def _on_plot(self, xs: np.ndarray, a: np.ndarray) -> np.ndarray:
        """The values of ``a`` (over ``xs``) inside the x range shown: the run draws the
        fields a little beyond it (fields_wanted), and what is off the plot must not set
        its axes."""
        if self._xrange is None:
            return a
        inside = (xs >= self._xrange[0]) & (xs <= self._xrange[1])
        return a[inside] if inside.any() else a

    def _fit_y(self, snap) -> None:
        """Left axis range: room for p_data and p_g, changed only when it must (no jitter)."""
        p_data = None if snap.p_data is None else self._on_plot(snap.xs, snap.p_data)
        p_g = self._on_plot(snap.xs, snap.p_g)
        top = float(np.nanmax(p_data)) if p_data is not None else 1.0
        peak = float(np.nanmax(p_g)) if np.isfinite(p_g).any() else 0.0
        want = HEADROOM * max(1.05 * top, min(1.05 * peak, PEAK_CAP * top))
        if self.shared is not None:  # linked panels: room for every panel's densities
            self.shared.want(self, "y", want)
        elif not self._held:
            self.apply_range("y", want)
        cap = (self._ymax or want) / HEADROOM  # none yet: a panel first drawn while held
        if peak > cap * 1.02 and snap.xs is not None:  # cut by the axis: say how high it is
            at = float(self._on_plot(snap.xs, snap.xs)[int(np.nanargmax(p_g))])
            self.peak.setText(f"\u2191 p_g peak {peak:.3g}, cut at {cap:.2g}")
            self.peak.setPos(at, cap)
            self.peak.setVisible(self.visible["p_g"])
            self._clear_of_legend(self.peak)
        else:
            self.peak.setVisible(False)
        self._p_g_label(f"p_g (from 10^4 samples; peak {peak:.3g} cut)" if peak > cap * 1.02
                        else "p_g (from 10^4 samples)")

    def _draw_samples(self, snap) -> None:
        x = np.asarray(snap.fake, dtype=np.float64)[:, 0]
        if self.visible["rug"]:
            rx = np.repeat(x, 2)
            ry = np.tile([1.05, 1.3], len(x))
            self.rug.setData(rx, ry)
        z = snap.z
        if self.visible["mapping"] and z is not None and z.shape[1] == 1 and self._xrange:
            x0, x1 = self._xrange
            order = np.argsort(z[:, 0])
            pick = order[np.linspace(0, len(order) - 1, min(N_LINES, len(order))).astype(int)]
            zpos = x0 + _phi(z[pick, 0]) * (x1 - x0)
            mx = np.empty(2 * len(pick))
            my = np.empty(2 * len(pick))
            mx[0::2], mx[1::2] = zpos, x[pick]
            my[0::2], my[1::2] = 0.0, 1.0
            self.mapping.setData(mx, my)
        elif not self.visible["mapping"] or z is None or z.shape[1] != 1:
            self.mapping.setData([], [])

    def _changed(self, key: str, value) -> bool:
        if self._drawn.get(key, ()) is value:
            return False
        self._drawn[key] = value
        return True
