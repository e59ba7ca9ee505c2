"""Time series of a run: losses, JS divergence, gradient norms, D's outputs, modes."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from . import style

LN2 = math.log(2.0)


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


def _ref_line(plot: pg.PlotItem, y: float, label: str, below: bool = False) -> pg.InfiniteLine:
    anchor = (1, 0) if below else (1, 1)
    line = pg.InfiniteLine(pos=y, angle=0, pen=style.pen(style.MUTED, 1.2, dash=True),
                           label=label, labelOpts=dict(position=0.98, color="#bdbdbd",
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
        if len(decades) >= 2:
            return [(1.0, decades), (None, steps)]
        return [(None, sorted(decades + steps))]


class TimeSeriesView(pg.GraphicsLayoutWidget):
    """Stacked plots sharing the step axis, drawn from a :class:`History`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.plots = {}
        rows = (
            ("loss", [("loss D", style.DISC), ("loss G", style.GEN)], "loss"),
            ("js", [("JS(p_data, p_g)", style.ACCENT)], "nats"),
            ("grad", [("|grad G|", style.GEN), ("|grad D|", style.DISC)], "norm"),
            ("dout", [("D(real)", style.DATA), ("D(fake)", style.GEN)], "mean D"),
            ("modes", [("modes captured", style.GEN), ("of", style.MUTED),
                       ("total", style.DATA)], "modes"),
        )
        for i, (key, names, left) in enumerate(rows):
            axes = {"left": DecadeAxis("left")} if key == "grad" else None
            plot = self.addPlot(row=i, col=0, axisItems=axes)
            style.style_plot(plot, None, left=left,
                             bottom="iteration" if key == rows[-1][0] else None)
            style.coloured_title(plot, names)
            plot.setMenuEnabled(False)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setClipToView(True)
            plot.getAxis("left").setWidth(62)
            plot.getAxis("left").enableAutoSIPrefix(False)
            if i:
                plot.setXLink(self.plots["loss"])
            self.plots[key] = plot
        p = self.plots
        self.loss_d = _curve(p["loss"], style.DISC, "loss D")
        self.loss_g = _curve(p["loss"], style.GEN, "loss G")
        self.equilibrium = _ref_line(p["loss"], 2 * LN2, "D at equilibrium: 2 ln 2")
        self.js = _curve(p["js"], style.ACCENT, "JS", width=2.4)
        _ref_line(p["js"], LN2, "ln 2: no overlap", below=True)
        p["js"].setYRange(0.0, 0.76, padding=0)
        p["grad"].setLogMode(y=True)
        self.grad_g = _curve(p["grad"], style.GEN, "|grad G|")
        self.grad_d = _curve(p["grad"], style.DISC, "|grad D|")
        self.d_real = _curve(p["dout"], style.DATA, "D(real)")
        self.d_fake = _curve(p["dout"], style.GEN, "D(fake)")
        self.half = _ref_line(p["dout"], 0.5, "1/2")
        self.captured = _curve(p["modes"], style.GEN, "captured", width=2.4)
        self.total = _curve(p["modes"], style.DATA, "total", dash=True)
        self._critic = None
        self._mixture = None

    def forget(self) -> None:  # not clear(): GraphicsLayoutWidget binds that to its layout
        """Empty every curve (a new run)."""
        for item in (self.loss_d, self.loss_g, self.js, self.grad_g, self.grad_d, self.d_real,
                     self.d_fake, self.captured, self.total):
            item.setData([], [])
        self._critic = None
        self._mixture = None

    def draw(self, history, snap=None) -> None:
        """Draw every curve from ``history`` (a :class:`ganviz.views.history.History`)."""
        s = history.steps
        if s.n:
            x = s.x
            self.loss_d.setData(x, s.y("loss_d"))
            self.loss_g.setData(x, s.y("loss_g"))
            self.grad_g.setData(x, np.maximum(s.y("grad_norm_g"), 1e-12))
            self.grad_d.setData(x, np.maximum(s.y("grad_norm_d"), 1e-12))
            self.d_real.setData(x, s.y("d_real"))
            self.d_fake.setData(x, s.y("d_fake"))
        m = history.measured
        if m.n:
            self.js.setData(m.x, m.y("js"))
            total = m.y("modes_total")
            mixture = bool(np.isfinite(total).any() and np.nanmax(total) > 1)
            if mixture:
                self.captured.setData(m.x, m.y("modes_captured"), stepMode=None)
                self.total.setData(m.x, total)
            if mixture != self._mixture:
                self._mixture = mixture
                self.plots["modes"].setVisible(mixture)
                if mixture:
                    top = float(np.nanmax(total))
                    self.plots["modes"].setYRange(0, top + 0.5, padding=0)
        if snap is not None and bool(snap.critic) != self._critic:
            self._critic = bool(snap.critic)
            self.equilibrium.setVisible(not self._critic)
            self.half.setVisible(not self._critic)
            dout = self.plots["dout"]
            names = ("critic(real)", "critic(fake)") if self._critic else ("D(real)", "D(fake)")
            style.coloured_title(dout, [(names[0], style.DATA), (names[1], style.GEN)])
            if self._critic:
                dout.enableAutoRange(axis="y")
            else:
                dout.setYRange(0.0, 1.0, padding=0.02)
