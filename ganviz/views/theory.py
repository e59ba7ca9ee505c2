"""The closed-form theory plot: JS and the generator's gradient as p_g = N(b, 1) moves away from N(0, 1)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from ganviz.views import style

LN2 = math.log(2.0)

TIPS = {
    "js": "JS(p_data || p_g) in nats for p_data = N(0, 1), p_g = N(b, 1), exact.<br>"
          "It saturates at ln 2 = 0.693 as the two stop overlapping: then C(G) = -log 4 + 2 JS "
          "is flat and gives G no direction.",
    "grad": "Magnitude of the generator's gradient d/db with D = D* held fixed.<br>"
            "<b>minimax</b> (log(1 - D(G(z)))): 2 dJS/db, vanishes like exp(-b²/8).<br>"
            "<b>non-saturating</b> (-log D(G(z))): tends to |b|, so G keeps moving.<br>"
            "<b>Wasserstein</b>: the optimal critic has slope 1 for every b.",
}


class TheoryView(pg.GraphicsLayoutWidget):
    """JS(b) above, the three generator-gradient magnitudes (log scale) below."""

    def __init__(self, curves: dict, parent=None) -> None:
        super().__init__(parent)
        b = curves["b"]
        top = self.addPlot(row=0, col=0)
        style.style_plot(top)
        top.setLabel("left", "JS (nats)", color="#d8d8d8")
        top.getAxis("left").enableAutoSIPrefix(False)
        style.coloured_title(top, [("JS(N(0,1) || N(b,1))", style.ACCENT)])
        top.plot(b, curves["js"], pen=style.pen(style.ACCENT, 2.5))
        line = pg.InfiniteLine(pos=LN2, angle=0, pen=style.pen(style.MUTED, 1.2, dash=True),
                               label="ln 2", labelOpts=dict(position=0.1, color=style.MUTED))
        top.addItem(line)
        top.setYRange(0, 0.75)
        top.setToolTip(TIPS["js"])

        low = self.addPlot(row=1, col=0)
        style.style_plot(low)
        low.setLabel("left", "|dV/db|", color="#d8d8d8")
        low.setLabel("bottom", "shift b of p_g = N(b, 1)", color="#d8d8d8")
        names = (("minimax", style.GEN, "grad_minimax"),
                 ("non-saturating", style.DATA, "grad_nonsaturating"),
                 ("Wasserstein", style.DISC, "grad_wgan"))
        style.coloured_title(low, [(n, c) for n, c, _ in names])
        low.setLogMode(y=True)
        floor = 1e-12  # log axis: the underflowed tail drawn at the floor
        for _, colour, key in names:
            low.plot(b, np.maximum(curves[key], floor), pen=style.pen(colour, 2.5))
        low.setXLink(top)
        low.setToolTip(TIPS["grad"])
        self.top, self.low = top, low
        self.presenter = style.Presenter()
        for plot in (top, low):
            self.presenter.plot(plot)
            for item in plot.items:
                if isinstance(item, pg.PlotDataItem):
                    self.presenter.curve(item, thin_fast=False)
                elif isinstance(item, pg.InfiniteLine):
                    self.presenter.line(item)

    def set_presentation(self, on: bool) -> None:
        """Large text and thick lines (presentation mode) when ``on``; the normal look off."""
        self.presenter.set(on)
