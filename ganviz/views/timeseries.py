"""Time series of a run: losses, JS, W1, KL, gradient norms, D's outputs, modes.

Per-iteration series are drawn as a smoothed line over a faint band of the raw
values; measured series (one value per measurement, a few a second) as points
held until the next measurement, never as ramps between sparse points. Events of
the run (a loss, k or rate change, a reset, a freeze, a session opened) are
vertical markers with a short label. The teacher picks which panels show.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from . import style

LN2 = math.log(2.0)
#: The JS panels' fixed range, nats: 0 to a little over its bound ln 2, whatever the run.
JS_RANGE = (0.0, 0.76)
#: Hover text of each plot (rich text).
TIPS = {
    "loss": "<b>Losses</b> per iteration (nats for the sigmoid losses)<br>"
            "<b>loss D</b> = -E[log D(x)] - E[log(1 - D(G(z)))]. When D cannot tell real from "
            "fake (D = 1/2 everywhere, as at the equilibrium p<sub>g</sub> = p<sub>data</sub>) "
            "it is 2 ln 2 = 1.386: the dashed line. Near 0: D wins easily.<br>"
            "<b>loss G</b>, what G minimises: log(1 - D(G(z))) for minimax (negative; near 0 "
            "when D is sure), -log D(G(z)) for non-saturating.<br>"
            "<b>WGAN</b>: loss D = E[D(G(z))] - E[D(x)] (plus the gradient penalty for "
            "WGAN-GP), minus the critic's estimate of the W1 distance; loss G = -E[D(G(z))].<br>"
            "GAN losses need not fall: two players pull against each other.",
    "js": "<b>Jensen-Shannon divergence</b> JS(p<sub>data</sub> || p<sub>g</sub>) in nats, from "
          "the exact p<sub>data</sub> and the estimated p<sub>g</sub> (not from D)<br>"
          "0 exactly when p<sub>g</sub> = p<sub>data</sub>; at most ln 2 = 0.693 (dashed), "
          "reached when the two do not overlap.<br>"
          "With D = D*, the minimax game's value is C(G) = -log 4 + 2 JS (Goodfellow et al. "
          "2014, Theorem 1). While JS sits at ln 2, C(G) is flat: a strong D leaves the "
          "minimax G almost no gradient. The non-saturating loss and the Wasserstein critic "
          "still give one.",
    "grad": "<b>Gradient norms</b> (log scale)<br>"
            "<b>|grad G|</b>: norm of the gradient of G's loss with respect to all of G's "
            "parameters. This is where vanishing gradients show: with the minimax loss and a "
            "confident D it drops by decades.<br>"
            "<b>|grad D|</b>: the same for D's loss and D's parameters.",
    "dout": "<b>D's mean output</b> on a batch of real samples, D(real), and of generated "
            "ones, D(fake)<br>"
            "D(real) near 1 and D(fake) near 0: D separates them easily. Both near 1/2 "
            "(dashed): D cannot tell them apart, as at the equilibrium.<br>"
            "For a WGAN critic these are raw scores: the gap E[D(x)] - E[D(G(z))] is its "
            "estimate of W1.",
    "w1": "<b>Wasserstein-1 distance</b> W<sub>1</sub>(p<sub>data</sub>, p<sub>g</sub>) in "
          "data units: how far, on average, probability mass must move to turn p<sub>g</sub> "
          "into p<sub>data</sub>. Unlike JS it keeps falling while the two do not overlap.",
    "kl": "<b>KL divergence</b> KL(p<sub>data</sub> || p<sub>g</sub>) in nats. Blank where "
          "the estimate is not reliable (p<sub>g</sub> has too little mass where the data "
          "lies).",
    "quality": "<b>High-quality share</b>: the fraction of generated samples within 3 "
               "standard deviations of their nearest mode centre. High quality with few modes "
               "captured is mode collapse.",
    "raster": "<b>Modes over time</b>: one row per mode, one column per measurement; "
              "brighter where more generated samples fall to that mode. A bright stripe that "
              "jumps from row to row is mode hopping.",
    "bars": "<b>Samples per mode</b> at the latest measurement (share of the high-quality "
            "samples). Equal bars: every mode captured evenly.",
    "modes": "<b>Mode coverage</b> of a mixture target<br>"
             "A generated sample is high quality if it lies within 3 standard deviations of "
             "its nearest mode centre; a mode is captured if at least one high-quality sample "
             "falls to it. The dashed line is the number of modes.<br>"
             "Few modes captured while the samples look sharp is mode collapse.",
}


def _curve(plot: pg.PlotItem, colour: str, name: str, width: float = 1.0,
           dash: bool = False) -> pg.PlotDataItem:
    """A long-history curve: peak downsampling and clip-to-view keep it fast.

    Noisy per-iteration curves stay 1 px wide: Qt strokes a wider antialiased
    zigzag some 40 times slower (1 s a frame for 3000 points, measured).
    """
    item = pg.PlotDataItem(pen=style.pen(colour, width, dash=dash), name=name)
    plot.addItem(item)  # addItem imposes the plot's modes: set them after
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    return item


def ref_line(plot: pg.PlotItem, y: float, label: str, below: bool = False) -> pg.InfiniteLine:
    """A dashed horizontal reference line at ``y`` on ``plot``, labelled at its right end."""
    anchor = (1, 0) if below else (1, 1)
    line = pg.InfiniteLine(pos=y, angle=0, pen=style.pen(style.MUTED, 1.2, dash=True),
                           label=label or None, labelOpts=dict(position=0.98, color="#bdbdbd",
                                                               anchors=[anchor, anchor]))
    plot.addItem(line)
    return line


class DecadeAxis(pg.AxisItem):
    """A log axis labelled at decades (1, 2 and 5 when the range is under a decade)."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802 - pyqtgraph name
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        decades = [float(d) for d in range(lo, hi + 1) if minVal <= d <= maxVal]
        steps = [d + math.log10(m) for d in range(lo, hi) for m in (2, 5)]
        steps = [v for v in steps if minVal <= v <= maxVal]
        every = max(1, math.ceil(len(decades) * 18 / max(size, 1.0)))  # 18 px a label at least
        if every > 1:  # a short panel over many decades: every other (third...) decade
            return [(float(every), decades[::every])]
        if len(decades) >= 2:
            return [(1.0, decades), (None, steps)]
        return [(None, sorted(decades + steps))]


def smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean of ``y`` over ``width`` points (NaN and inf ignored; (n,) float)."""
    y = np.asarray(y, dtype=np.float64)
    if width <= 1 or len(y) < 3:
        return y
    ok = np.isfinite(y)
    c = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
    k = np.concatenate([[0], np.cumsum(ok)])
    half = width // 2
    i = np.arange(len(y))
    lo, hi = np.maximum(i - half, 0), np.minimum(i + half + 1, len(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[hi] - c[lo]) / (k[hi] - k[lo])
    out[~ok] = np.nan  # a diverged value stays a gap, not a smoothed number
    return out


def held(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Steps for measured values: each value held until the next measurement (no ramps)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) < 2:
        return x, y
    hx = np.repeat(x, 2)[1:]
    hy = np.repeat(y, 2)[:-1]
    return hx, hy


#: Points of the moving mean of a per-iteration series: about 1/150 of those shown.
SMOOTH_SHARE = 1 / 150
#: Measured points get a marker while there are fewer than this many.
MARKERS_BELOW = 400
#: Least height in px of a panel (normal, presentation): chosen panels that do not fit
#: at this height are left out, the last ones first, so that those shown stay readable.
PANEL_MIN_PX = (90, 140)


class EventMarkers:
    """A run's events on stacked plots that share the step axis.

    Each (step, label) event is a dashed vertical line on every plot given; the
    label reads across, just under the top of the first plot, beside its line:
    to its right, or to its left in the right third of the step axis (where it
    would run out of the panel), lower down where it would cover one placed
    before it. One way for the single run's series and the comparison's.
    """

    #: Heights of a label on its line (share of the panel from the bottom), per tier.
    TIERS = (0.97, 0.62, 0.27)

    def __init__(self) -> None:
        self.items: list = []  # (plot, line), in the order drawn
        self._drawn = None

    def clear(self) -> None:
        for plot, line in self.items:
            plot.removeItem(line)
        self.items = []
        self._drawn = None

    def draw(self, plots: list, events) -> None:
        """Mark ``events`` ((step, label) pairs) on ``plots`` (the top one first)."""
        events = list(events)
        key = (events, [id(p) for p in plots])
        if key == self._drawn:
            return
        self.clear()
        self._drawn = key
        for step, label in events:
            for i, plot in enumerate(plots):
                # Across, just under the top and beside the line: a label along the line
                # ran up out of the panel.
                opts = dict(position=self.TIERS[0], color=style.ACCENT,
                            fill=pg.mkBrush(20, 20, 24, 200), anchors=[(0, 0), (0, 0)]) \
                    if i == 0 else None
                line = pg.InfiniteLine(pos=float(step), angle=90,
                                       pen=pg.mkPen(255, 213, 79, 140, width=1,
                                                    style=pg.QtCore.Qt.PenStyle.DashLine),
                                       label=label if i == 0 else None, labelOpts=opts)
                line.setZValue(5)
                plot.addItem(line, ignoreBounds=True)
                self.items.append((plot, line))

    def place(self, vb) -> None:
        """Place the labels for the step range ``vb`` (a view box of the plots) shows."""
        if not self.items:
            return
        x0, x1 = vb.viewRange()[0]
        px_per_step = vb.width() / (x1 - x0) if x1 > x0 else 0.0
        tiers: list[list[tuple[float, float]]] = [[] for _ in self.TIERS]  # pixel spans taken
        for _plot, line in self.items:
            label = getattr(line, "label", None)
            if label is None:
                continue
            right_third = line.value() > x0 + 0.66 * (x1 - x0)
            side = (1, 0) if right_third else (0, 0)
            if label.anchors[0] != side:
                label.anchors = [side, side]
            # A label that would cover one placed before it goes lower down the line.
            at = (line.value() - x0) * px_per_step
            width = label.textItem.boundingRect().width()
            span = (at - width, at) if right_third else (at, at + width)
            tier = next((k for k, taken in enumerate(tiers)
                         if not any(a < span[1] and span[0] < b for a, b in taken)), 0)
            tiers[tier].append(span)
            label.setPosition(self.TIERS[tier])

    def labels(self) -> list[tuple[float, str]]:
        """(step, label) of every marker drawn, in the order drawn (top plot)."""
        return [(line.value(), line.label.format) for _plot, line in self.items
                if getattr(line, "label", None) is not None]


#: The losses' title: the curves, and the dashed line of D's loss at equilibrium.
LOSS_TITLE = [("loss D", style.DISC), ("loss G", style.GEN),
              ("\u2013 \u2013 2 ln 2: equilibrium", style.MUTED)]


class TimeSeriesView(pg.GraphicsLayoutWidget):
    """Stacked plots sharing the step axis, drawn from a :class:`History`."""

    #: Every panel, in order: key -> menu title.
    PANELS = {
        "loss": "Losses",
        "js": "JS divergence",
        "w1": "W1 distance",
        "kl": "KL divergence",
        "grad": "Gradient norms",
        "dout": "D(real), D(fake)",
        "modes": "Modes captured",
        "quality": "High-quality share",
        "raster": "Modes over time",
        "bars": "Samples per mode",
    }
    #: Panels shown unless the teacher chose otherwise.
    DEFAULT = ("loss", "js", "w1", "grad", "dout", "modes", "raster")
    #: Which chosen panels stay when not all fit the height: the first ones here.
    PRIORITY = ("loss", "js", "modes", "grad", "w1", "dout", "raster", "kl", "quality", "bars")
    #: Panels that only mean something for a mixture target.
    MIXTURE = ("modes", "quality", "raster", "bars")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plots = {}
        rows = (
            ("loss", [("loss D", style.DISC), ("loss G", style.GEN)], "loss"),
            ("js", [("JS(p_data, p_g)", style.ACCENT)], "nats"),
            ("w1", [("W1(p_data, p_g)", style.DATA)], "units"),
            ("kl", [("KL(p_data || p_g)", style.ACCENT)], "nats"),
            ("grad", [("|grad G|", style.GEN), ("|grad D|", style.DISC)], "norm"),
            ("dout", [("D(real)", style.DATA), ("D(fake)", style.GEN)], "mean D"),
            ("modes", [("modes captured", style.GEN), ("of", style.MUTED),
                       ("total", style.DATA)], "modes"),
            ("quality", [("high-quality share", style.GEN)], "share"),
            ("raster", [("modes over time", style.GEN)], "mode"),
            ("bars", [("samples per mode, now", style.GEN)], "share"),
        )
        for i, (key, names, left) in enumerate(rows):
            axes = {"left": DecadeAxis("left")} if key == "grad" else None
            plot = self.addPlot(row=i, col=0, axisItems=axes)
            # Every step axis is labelled; only the lowest one shown is visible (_show_panels).
            style.style_plot(plot, None, left=left, bottom="mode" if key == "bars" else "iteration")
            style.coloured_title(plot, names)
            plot.setMenuEnabled(False)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.getAxis("left").setWidth(78)  # room for "-0.0095" beside the axis label
            plot.getAxis("left").enableAutoSIPrefix(False)
            if i and key != "bars":
                plot.setXLink(self.plots["loss"])
            self.plots[key] = plot
        p = self.plots
        self.loss_d, self.loss_d_raw = self._per_step(p["loss"], style.DISC, "loss D")
        self.loss_g, self.loss_g_raw = self._per_step(p["loss"], style.GEN, "loss G")
        # Named in the title: a label on the line sat on the curves and was cut at the edge.
        self.equilibrium = ref_line(p["loss"], 2 * LN2, "")
        style.coloured_title(p["loss"], LOSS_TITLE)
        self.js, self.js_dots = self._measured(p["js"], style.ACCENT, "JS")
        ref_line(p["js"], LN2, "ln 2: no overlap", below=True)
        p["js"].setYRange(*JS_RANGE, padding=0)
        self.w1, self.w1_dots = self._measured(p["w1"], style.DATA, "W1")
        self.kl, self.kl_dots = self._measured(p["kl"], style.ACCENT, "KL")
        p["grad"].setLogMode(y=True)
        self.grad_g, self.grad_g_raw = self._per_step(p["grad"], style.GEN, "|grad G|")
        self.grad_d, self.grad_d_raw = self._per_step(p["grad"], style.DISC, "|grad D|")
        self.d_real, self.d_real_raw = self._per_step(p["dout"], style.DATA, "D(real)")
        self.d_fake, self.d_fake_raw = self._per_step(p["dout"], style.GEN, "D(fake)")
        self.half = ref_line(p["dout"], 0.5, "1/2")
        self.captured, self.captured_dots = self._measured(p["modes"], style.GEN, "captured")
        self.total = _curve(p["modes"], style.DATA, "total", dash=True)
        self.quality, self.quality_dots = self._measured(p["quality"], style.GEN, "quality")
        p["quality"].setYRange(0.0, 1.02, padding=0)
        self.raster = pg.ImageItem(axisOrder="row-major")
        self.raster.setLookupTable(style.density_lut(style.GEN, 255))
        p["raster"].addItem(self.raster)
        p["raster"].setClipToView(False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush=style.GEN, pen=None)
        p["bars"].addItem(self.bars)
        p["bars"].setYRange(0.0, 1.0, padding=0.02)
        self.presenter = style.Presenter()
        for key, plot in p.items():
            plot.setToolTip(TIPS[key])
            self.presenter.plot(plot)
            for item in plot.items:
                if isinstance(item, pg.PlotDataItem):
                    self.presenter.curve(item)
                elif isinstance(item, pg.InfiniteLine):
                    self.presenter.line(item)
        self._chosen = set(self.DEFAULT)
        self.markers = EventMarkers()
        self._mode_rows: list[tuple[float, np.ndarray]] = []
        self._mode_step = None
        self._critic = None
        self._mixture = None
        self._dout_from = None  # first iteration drawn in the D panel (after a scale switch)
        # Event labels are placed again once the step axis has moved (after a draw, the
        # axis ranges itself later); on a timer owned by the view, never during teardown.
        from PySide6.QtCore import QTimer

        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(0)
        self._label_timer.timeout.connect(self._place_labels)
        p["loss"].sigXRangeChanged.connect(self._label_timer.start)
        # Where the D panel's scale switched (probabilities <-> critic scores).
        self._dout_switch = pg.InfiniteLine(angle=90, pen=pg.mkPen(style.ACCENT, width=1.5))
        self._dout_switch.setVisible(False)
        p["dout"].addItem(self._dout_switch, ignoreBounds=True)
        self._show_panels()

    @staticmethod
    def _per_step(plot, colour: str, name: str):
        """(smoothed line, faint raw band) of a per-iteration series."""
        c = pg.mkColor(colour)
        c.setAlpha(70)
        raw = pg.PlotDataItem(pen=pg.mkPen(c, width=1), name=name + " (raw)")
        plot.addItem(raw)
        raw.setDownsampling(auto=True, method="peak")
        raw.setClipToView(True)
        line = _curve(plot, colour, name, width=1.0)
        return line, raw

    @staticmethod
    def _measured(plot, colour: str, name: str):
        """(held steps, points) of a measured series."""
        line = pg.PlotDataItem(pen=style.pen(colour, 1.6), name=name, connect="finite")
        plot.addItem(line)
        dots = pg.ScatterPlotItem(size=5, pen=None, brush=pg.mkBrush(colour))
        plot.addItem(dots)
        return line, dots

    # --- which panels show ------------------------------------------------------

    def chosen(self) -> list[str]:
        """The panels the teacher chose, in order (a mixture's panels show only for one)."""
        return [k for k in self.PANELS if k in self._chosen]

    def set_panel(self, key: str, on: bool) -> None:
        """Choose whether panel ``key`` (a key of PANELS) shows."""
        if key not in self.PANELS:
            raise KeyError(f"no time-series panel {key!r}; panels: {', '.join(self.PANELS)}")
        (self._chosen.add if on else self._chosen.discard)(key)
        self._show_panels()

    def shown(self) -> list[str]:
        """The panels showing now: the chosen ones that apply, as many as fit the height
        (by PRIORITY), in PANELS order."""
        height = self.height() if self.isVisible() or self.height() > 100 else 10_000
        fit = max(1, int(height // PANEL_MIN_PX[int(self.presenter.on)]))
        keep = [k for k in self.PRIORITY if self._panel_on(k)][:fit]
        return [k for k in self.PANELS if k in keep]

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)  # pyqtgraph calls this with None too, and before __init__ ends
        if not hasattr(self, "_chosen"):
            return
        if event is None or event.oldSize().height() != event.size().height():
            self._show_panels()

    def _panel_on(self, key: str) -> bool:
        return key in self._chosen and (key not in self.MIXTURE or bool(self._mixture))

    def _show_panels(self) -> None:
        """Show the chosen panels; hidden ones give their height to the others.

        The lowest panel of the shared step axis carries the "iteration" label.
        """
        shown = self.shown()
        for i, (key, plot) in enumerate(self.plots.items()):
            on = key in shown
            plot.setVisible(on)
            plot.setMaximumHeight(10_000 if on else 0)
            plot.setMinimumHeight(0)
            self.ci.layout.setRowStretchFactor(i, 1 if on else 0)
            self.ci.layout.setRowMaximumHeight(i, 10_000 if on else 0)
        steps = [k for k in shown if k != "bars"]
        for key, plot in self.plots.items():
            if key == "bars":
                continue
            last = bool(steps) and key == steps[-1]
            # One step axis, at the bottom: the panels above lend it their height.
            plot.showAxis("bottom", last)

    def set_presentation(self, on: bool) -> None:
        """Large text, thick lines (a projector) when ``on``; exactly the normal look when off.

        The noisy per-iteration curves are drawn 2 px wide without antialiasing then:
        antialiased, they would cost some 300 ms a frame.
        """
        self.presenter.set(on)
        self._show_panels()

    def close(self) -> bool:
        """Stop placing event labels first: closing clears the scene under them."""
        self._label_timer.stop()
        try:
            self.plots["loss"].sigXRangeChanged.disconnect(self._label_timer.start)
        except (RuntimeError, TypeError):  # closed before
            pass
        return super().close()

    def forget(self) -> None:  # not clear(): GraphicsLayoutWidget binds that to its layout
        """Empty every curve (a new run)."""
        for item in (self.loss_d, self.loss_g, self.js, self.grad_g, self.grad_d, self.d_real,
                     self.d_fake, self.captured, self.total, self.w1, self.kl, self.quality,
                     self.loss_d_raw, self.loss_g_raw, self.grad_g_raw, self.grad_d_raw,
                     self.d_real_raw, self.d_fake_raw):
            item.setData([], [])
        for dots in (self.js_dots, self.w1_dots, self.kl_dots, self.captured_dots,
                     self.quality_dots):
            dots.setData([], [])
        self.raster.clear()
        self.bars.setOpts(x=[], height=[])
        self._mode_rows = []
        self._mode_step = None
        self._clear_markers()
        self._critic = None
        self._mixture = None
        self._dout_from = None
        self._dout_switch.setVisible(False)

    def draw(self, history, snap=None) -> None:
        """Draw every curve from ``history`` (a :class:`ganviz.core.history.History`)."""
        self._follow_scale(snap)
        s = history.steps
        if s.n:
            x = s.x
            width = max(1, int(s.n * SMOOTH_SHARE))
            for line, raw, name, floor in (
                    (self.loss_d, self.loss_d_raw, "loss_d", None),
                    (self.loss_g, self.loss_g_raw, "loss_g", None),
                    (self.grad_g, self.grad_g_raw, "grad_norm_g", 1e-12),
                    (self.grad_d, self.grad_d_raw, "grad_norm_d", 1e-12),
                    (self.d_real, self.d_real_raw, "d_real", None),
                    (self.d_fake, self.d_fake_raw, "d_fake", None)):
                y = s.y(name)
                xx = x
                if floor is not None:
                    y = np.maximum(y, floor)
                if name in ("d_real", "d_fake") and self._dout_from is not None:
                    # Another scale since a loss switch: probabilities and critic scores
                    # never share the axis; the panel restarts at the switch.
                    keep = x >= self._dout_from
                    xx, y = x[keep], y[keep]
                raw.setData(xx, y)
                line.setData(xx, smooth(y, width) if width > 1 and len(y) > width else y)
        m = history.measured
        if m.n:
            total = m.y("modes_total")
            mixture = bool(np.isfinite(total).any() and np.nanmax(total) > 1)
            pairs = [(self.js, self.js_dots, "js"), (self.w1, self.w1_dots, "w1"),
                     (self.kl, self.kl_dots, "kl")]
            if mixture:
                pairs += [(self.captured, self.captured_dots, "modes_captured"),
                          (self.quality, self.quality_dots, "high_quality")]
                self.total.setData(*held(m.x, total))
            for line, dots, name in pairs:
                self._draw_measured(line, dots, m.x, m.y(name))
            if mixture != self._mixture:
                self._mixture = mixture
                self._show_panels()
                if mixture:
                    top = float(np.nanmax(total))
                    self.plots["modes"].setYRange(0, top + 0.5, padding=0)
        self._keep_mode_counts(history)
        self._draw_events(getattr(history, "events", ()))
        self._place_labels()
    def _follow_scale(self, snap) -> None:
        """The D panel's names, reference lines and range follow the loss's scale of D."""
        scale = None if snap is None else (bool(snap.critic), snap.d_kind,
                                           None if snap.d_range is None else tuple(snap.d_range))
        if scale is not None and scale != self._critic:
            if self._critic is not None:  # a switch: the panel restarts with this snapshot's rows
                steps = (snap.history or {}).get("step")
                self._dout_from = float(steps[0]) if steps is not None and len(steps) else float(snap.step)
                self._dout_switch.setValue(self._dout_from)
                self._dout_switch.setVisible(True)
            self._critic = scale
            critic, kind, d_range = scale
            self.equilibrium.setVisible(kind == "probability")
            style.coloured_title(self.plots["loss"], LOSS_TITLE if kind == "probability"
                                 else LOSS_TITLE[:2])
            self.half.setVisible(kind == "probability")
            dout = self.plots["dout"]
            names = (("critic(real)", "critic(fake)") if critic else
                     ("D(real)", "D(fake)") if kind == "probability" else
                     ("D(real) raw", "D(fake) raw"))
            title = [(names[0], style.DATA), (names[1], style.GEN)]
            if self._dout_from is not None:  # the legend says where the scale changed
                title.append((f"since it. {self._dout_from:,.0f}: scale changed", style.MUTED))
            style.coloured_title(dout, title)
            if d_range is None:
                dout.enableAutoRange(axis="y")
            else:
                dout.setYRange(*d_range, padding=0.02)

    # --- measured series, modes, events ---------------------------------------------

    @staticmethod
    def _draw_measured(line, dots, x, y) -> None:
        """Measured values held until the next measurement, a dot at each (NaN: a gap)."""
        y = np.asarray(y, dtype=np.float64)
        line.setData(*held(x, y))
        if len(x) < MARKERS_BELOW:
            ok = np.isfinite(y)
            dots.setData(np.asarray(x)[ok], y[ok])
        else:
            dots.setData([], [])

    def _keep_mode_counts(self, history) -> None:
        """Each measurement's samples per mode (``history.modes``, also a reopened
        session's): the raster's columns and the bars."""
        modes = getattr(history, "modes", ())
        if not modes:
            return
        if modes[-1][0] == self._mode_step and len(modes) == len(self._mode_rows):
            return
        self._mode_step = modes[-1][0]
        self._mode_rows = [(step, counts / counts.sum() if counts.sum() > 0 else counts)
                           for step, counts in modes]
        share = self._mode_rows[-1][1]
        self.bars.setOpts(x=np.arange(len(share)), height=share, width=0.7)
        self.plots["bars"].setXRange(-0.6, len(share) - 0.4, padding=0)
        self.plots["bars"].setYRange(0.0, max(0.25, float(share.max()) * 1.1), padding=0)
        self._draw_raster()

    def _draw_raster(self, columns: int = 240) -> None:
        """Modes (rows) by time (columns), each column the latest measurement at its step."""
        rows = self._mode_rows
        m = len(rows[-1][1])
        rows = [(x, r) for x, r in rows if len(r) == m]
        if not rows:
            return
        xs = np.array([x for x, _ in rows])
        shares = np.stack([r for _, r in rows])  # (t, m)
        x0, x1 = xs[0], max(xs[-1], xs[0] + 1)
        grid = np.linspace(x0, x1, columns)
        pick = np.clip(np.searchsorted(xs, grid, side="right") - 1, 0, len(xs) - 1)
        image = shares[pick].T  # (m, columns): rows are modes
        self.raster.setImage(image, autoLevels=False, levels=(0.0, max(float(image.max()), 1e-9)))
        from PySide6.QtCore import QRectF

        self.raster.setRect(QRectF(x0, -0.5, x1 - x0, m))
        self.plots["raster"].setYRange(-0.5, m - 0.5, padding=0)
        step = max(1, int(math.ceil(m / 5)))  # a mode's number on at most ~5 rows
        self.plots["raster"].getAxis("left").setTicks([[(i, str(i)) for i in range(0, m, step)]])

    @property
    def _markers(self) -> list:
        return self.markers.items

    def _clear_markers(self) -> None:
        self.markers.clear()

    def _draw_events(self, events) -> None:
        """A vertical marker for each (step, label) event; the label on the top panel."""
        self.markers.draw([self.plots[k] for k in self.shown() if k != "bars"], events)

    def _place_labels(self) -> None:
        self.markers.place(self.plots["loss"].vb)

    def marker_labels(self) -> list[tuple[float, str]]:
        """(step, label) of every event marker drawn, in the order drawn (top panel)."""
        return self.markers.labels()
