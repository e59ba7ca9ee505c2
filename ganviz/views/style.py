"""Colours, pens and fonts shared by the views: dark plots, bright curves, projector-sized text."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont

# One colour per actor, the same in every view: data green, generator orange, D blue.
DATA = "#4ee07a"
GEN = "#ff8a3d"
DISC = "#4fc3f7"
OPTIMAL = "#f5f5f5"
ACCENT = "#ffd54f"
MUTED = "#9e9e9e"
BACKGROUND = "#141418"
GRID_ALPHA = 0.18

FONT_SIZE = 11  # points: readable on a projector
TICK_FONT = QFont()
TICK_FONT.setPointSize(FONT_SIZE - 1)


def configure() -> None:
    """Global pyqtgraph options; call once before any view is made."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True, background=BACKGROUND,
                        foreground="#d8d8d8", useOpenGL=False)


def pen(colour: str, width: float = 2.0, dash: bool = False):
    """A cosmetic pen of ``colour``."""
    from PySide6.QtCore import Qt

    p = pg.mkPen(colour, width=width)
    if dash:
        p.setStyle(Qt.PenStyle.DashLine)
    return p


def style_plot(plot: pg.PlotItem, title: str | None = None, left: str | None = None,
               bottom: str | None = None) -> None:
    """Readable axes and a title on ``plot``; no grid (a grid costs 15-20 ms a frame here)."""
    if title:
        plot.setTitle(title, size=f"{FONT_SIZE + 1}pt", color="#e8e8e8")
    for name in ("left", "bottom", "right"):
        axis = plot.getAxis(name)
        # Ticks point outwards: an axis whose bounds reach into the plot is repainted
        # with every curve change (text is the costliest thing painted here).
        axis.setStyle(tickFont=TICK_FONT, tickTextOffset=4, tickLength=5)
        axis.setTextPen("#cfcfcf")
        cache(axis)
    if left:
        plot.setLabel("left", left, **{"font-size": f"{FONT_SIZE}pt"})
    if bottom:
        plot.setLabel("bottom", bottom, **{"font-size": f"{FONT_SIZE}pt"})


def legend(plot: pg.PlotItem, offset=(10, 6)) -> pg.LegendItem:
    """A legend with a translucent dark background and readable labels."""
    item = plot.addLegend(offset=offset, labelTextSize=f"{FONT_SIZE}pt",
                          brush=pg.mkBrush(20, 20, 24, 190), pen=pg.mkPen("#444"))
    item.setLabelTextColor("#eeeeee")
    return item


def d_colormap() -> pg.ColorMap:
    """D(x) in [0, 1]: plum where D says fake, near black at 1/2, teal where it says real."""
    return pg.ColorMap(
        np.array([0.0, 0.25, 0.5, 0.75, 1.0]),
        np.array([[112, 36, 98], [68, 30, 64], [28, 28, 36], [24, 82, 92], [36, 140, 152]],
                 dtype=np.ubyte),
    )


def density_lut(colour: str = GEN, alpha_max: int = 200) -> np.ndarray:
    """A (256, 4) RGBA lookup table: transparent at 0, ``colour`` at full density."""
    c = pg.mkColor(colour)
    t = np.linspace(0.0, 1.0, 256)
    lut = np.empty((256, 4), dtype=np.ubyte)
    lut[:, 0], lut[:, 1], lut[:, 2] = c.red(), c.green(), c.blue()
    lut[:, 3] = (alpha_max * np.sqrt(t)).astype(np.ubyte)  # faint mass stays visible
    return lut


def coloured_title(plot: pg.PlotItem, names) -> None:
    """A title naming each curve in its colour: a legend that covers no data."""
    html = " ".join(f'<span style="color:{c}">{n}</span>' for n, c in names)
    plot.setTitle(html, size=f"{FONT_SIZE + 1}pt", color="#e8e8e8")


def cache(item) -> None:
    """Paint ``item`` from a pixmap cache until it changes (axes, heatmaps)."""
    from PySide6.QtWidgets import QGraphicsItem

    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
