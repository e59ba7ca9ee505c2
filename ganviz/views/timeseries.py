"""Time series of a run: losses, JS divergence, gradient norms, D's outputs, modes."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from . import style

LN2 = math.log(2.0)
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
        # Below the line: at the top of an autoranged plot a label above it is cut off.
        self.equilibrium = _ref_line(p["loss"], 2 * LN2, "D at equilibrium: 2 ln 2", below=True)
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
        self.presenter = style.Presenter()
        for key, plot in p.items():
            plot.setToolTip(TIPS[key])
            self.presenter.plot(plot)
            for item in plot.items:
                if isinstance(item, pg.PlotDataItem):
                    self.presenter.curve(item)
                elif isinstance(item, pg.InfiniteLine):
                    self.presenter.line(item)
        self._critic = None
        self._mixture = None

    def set_presentation(self, on: bool) -> None:
        """Large text, thick lines (a projector) when ``on``; exactly the normal look when off.

        The noisy per-iteration curves are drawn 2 px wide without antialiasing then:
        antialiased, they would cost some 300 ms a frame.
        """
        self.presenter.set(on)

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
        scale = None if snap is None else (bool(snap.critic), snap.d_kind,
                                           None if snap.d_range is None else tuple(snap.d_range))
        if scale is not None and scale != self._critic:
            self._critic = scale
            critic, kind, d_range = scale
            self.equilibrium.setVisible(kind == "probability")
            self.half.setVisible(kind == "probability")
            dout = self.plots["dout"]
            names = ("critic(real)", "critic(fake)") if critic else ("D(real)", "D(fake)")
            style.coloured_title(dout, [(names[0], style.DATA), (names[1], style.GEN)])
            if d_range is None:
                dout.enableAutoRange(axis="y")
            else:
                dout.setYRange(*d_range, padding=0.02)
