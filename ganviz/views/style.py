"""Colours, pens and fonts shared by the views: dark plots, bright curves, projector-sized text.

Presentation mode (a projector) scales text, lines and markers; :class:`Presenter`
switches a view's items between the two looks and puts the normal one back exactly.
"""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QPen

# One colour per actor, the same in every view: data green, generator orange, D blue.
DATA = "#4ee07a"
GEN = "#ff8a3d"
DISC = "#4fc3f7"
OPTIMAL = "#f5f5f5"
ACCENT = "#ffd54f"
MUTED = "#9e9e9e"
LABEL = "#cfcfcf"  # axis text
BACKGROUND = "#141418"
GRID_ALPHA = 0.18

FONT_SIZE = 11  # points: readable on a projector
TICK_FONT = QFont()
TICK_FONT.setPointSize(FONT_SIZE - 1)
#: Presentation mode: text, line widths and marker sizes are multiplied by these.
PRESENT_FONT = 1.6
PRESENT_PEN = 2.0
PRESENT_SIZE = 1.6
#: Height of a plot's title row (pyqtgraph's setTitle fixes it at 30 px).
TITLE_HEIGHT = 30


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
    _free_title_width(plot)
    if title:
        plot.setTitle(title, size=f"{FONT_SIZE + 1}pt", color="#e8e8e8")
    for name in ("left", "bottom", "right"):
        axis = plot.getAxis(name)
        # Ticks point outwards: an axis whose bounds reach into the plot is repainted
        # with every curve change (text is the costliest thing painted here).
        axis.setStyle(tickFont=TICK_FONT, tickTextOffset=4, tickLength=5)
        axis.setTextPen(LABEL)
        axis.enableAutoSIPrefix(False)  # "density (x0.001)" over ticks 0..600 reads badly
        cache(axis)
    # The colour must be given with the size: a label style without one draws black text.
    label_style = {"font-size": f"{FONT_SIZE}pt", "color": LABEL}
    if left:
        plot.setLabel("left", left, **label_style)
    if bottom:
        plot.setLabel("bottom", bottom, **label_style)


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
    """A title naming each curve in its colour: a legend that covers no data.

    A title already shown keeps its size and row height (presentation mode may have
    enlarged them); a new one gets the normal ones.
    """
    html = " ".join(f'<span style="color:{c}">{n}</span>' for n, c in names)
    label = plot.titleLabel
    had = label.maximumHeight() > 0 and label.text
    size = label.opts.get("size", f"{FONT_SIZE + 1}pt") if had else f"{FONT_SIZE + 1}pt"
    height = label.maximumHeight() if had else TITLE_HEIGHT
    _free_title_width(plot)
    plot.setTitle(html, size=size, color="#e8e8e8")
    _title_height(plot, height)


def _free_title_width(plot: pg.PlotItem) -> None:
    """Let a title be cut at the plot's edge rather than widen the plot.

    pyqtgraph makes a label's text width its minimum width: a long title in
    presentation mode (1.6x font) then pushed the 2-D view's colour bar, and
    the right edge of the time series, out of their widgets.
    """
    label = plot.titleLabel
    if getattr(label, "_width_free", False):
        return
    update = label.updateMin

    def update_min() -> None:
        update()
        label.setMinimumWidth(0)
        label._sizeHint[Qt.SizeHint.MinimumSize] = (0, label._sizeHint[Qt.SizeHint.MinimumSize][1])
        label.updateGeometry()

    label.updateMin = update_min
    label._width_free = True
    resize = label.resizeEvent

    def fit(ev=None) -> None:
        # A title wider than its plot is drawn smaller, never cut at the edges.
        item = label.item
        natural = item.boundingRect().width()
        room = label.rect().width()
        item.setScale(min(1.0, room / natural) if natural > 0 and room > 0 else 1.0)
        resize(ev)

    label.resizeEvent = fit


def cache(item) -> None:
    """Paint ``item`` from a pixmap cache until it changes (axes, heatmaps)."""
    from PySide6.QtWidgets import QGraphicsItem

    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


# --- presentation mode --------------------------------------------------------


def scaled_font(font: QFont, factor: float) -> QFont:
    """A copy of ``font`` ``factor`` times larger (point size, or pixel size if set in pixels)."""
    out = QFont(font)
    if font.pointSizeF() > 0:
        out.setPointSizeF(font.pointSizeF() * factor)
    elif font.pixelSize() > 0:
        out.setPixelSize(max(1, int(round(font.pixelSize() * factor))))
    return out


def scaled_pen(pen: QPen, factor: float) -> QPen:
    """A copy of ``pen`` with its width times ``factor`` (a 0-width cosmetic pen counts as 1 px)."""
    out = QPen(pen)
    out.setWidthF(max(pen.widthF(), 1.0) * factor)
    return out


def scaled_css_size(size: str, factor: float) -> str:
    """``"11pt"`` scaled by 1.6 is ``"17.6pt"``; any unit is kept."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([a-z%]*)\s*", size or "")
    if not m:
        return size
    return f"{float(m.group(1)) * factor:.3g}{m.group(2)}"


def _title_height(plot: pg.PlotItem, height: float) -> None:
    plot.titleLabel.setMaximumHeight(height)
    plot.layout.setRowFixedHeight(0, height)


class Presenter:
    """Switches pyqtgraph items between the normal look and presentation mode.

    Register each item once, after it is styled: its normal look (pens, fonts,
    sizes) is recorded then and is what :meth:`set` puts back, value for value;
    the projector look is computed from it (fonts x PRESENT_FONT, lines x
    PRESENT_PEN, markers x PRESENT_SIZE). Only the look changes: data, text and
    visibility are left as they are.
    """

    def __init__(self) -> None:
        self.on = False
        self._looks: list[tuple] = []  # (normal, present) callables

    @property
    def pen_scale(self) -> float:
        """Line widths are multiplied by this now."""
        return PRESENT_PEN if self.on else 1.0

    def set(self, on: bool) -> bool:
        """Presentation look (``on``) or the normal one; True if it changed."""
        on = bool(on)
        if on == self.on:
            return False
        self.on = on
        for normal, present in self._looks:
            (present if on else normal)()
        return True

    def _add(self, normal, present) -> None:
        self._looks.append((normal, present))
        if self.on:
            present()

    def curve(self, item: pg.PlotDataItem, thin_fast: bool = True) -> None:
        """A curve's pen. ``thin_fast``: a 1 px curve is drawn wider without antialiasing
        (Qt strokes a wide antialiased zigzag some 50 times slower than a 1 px one)."""
        pen = QPen(item.opts["pen"])
        aa = item.opts.get("antialias", True)
        fast = thin_fast and pen.widthF() <= 1.0

        def look(p, antialias):
            def apply():
                item.opts["antialias"] = antialias
                item.curve.opts["antialias"] = antialias
                item.setPen(QPen(p))
            return apply

        self._add(look(pen, aa), look(scaled_pen(pen, PRESENT_PEN), aa and not fast))

    def line(self, item: pg.InfiniteLine) -> None:
        """An infinite line's pen and its label's font."""
        pen = QPen(item.pen)
        label = getattr(item, "label", None)
        font = QFont(label.textItem.font()) if label is not None else None

        def look(p, f):
            def apply():
                item.setPen(QPen(p))
                if label is not None:
                    label.setFont(QFont(f))
            return apply

        self._add(look(pen, font), look(scaled_pen(pen, PRESENT_PEN),
                                        scaled_font(font, PRESENT_FONT) if font else None))

    def scatter(self, item: pg.ScatterPlotItem) -> None:
        """A scatter's marker size and outline width (default ones, not per-point ones)."""
        size = item.opts["size"]
        pen = QPen(item.opts["pen"]) if isinstance(item.opts.get("pen"), QPen) else None

        def look(s, p):
            def apply():
                if p is not None:
                    item.setPen(QPen(p), update=False)
                item.setSize(s)
            return apply

        self._add(look(size, pen), look(size * PRESENT_SIZE,
                                        scaled_pen(pen, PRESENT_PEN) if pen else None))

    def text(self, item: pg.TextItem) -> None:
        """A text item's font."""
        font = QFont(item.textItem.font())

        def look(f):
            def apply():
                item.setFont(QFont(f))
            return apply

        self._add(look(font), look(scaled_font(font, PRESENT_FONT)))

    def axis(self, axis: pg.AxisItem) -> None:
        """An axis: tick font, label size and a fixed width if it has one."""
        tick = axis.style.get("tickFont")  # None: the application's font
        tick = QFont(tick) if tick is not None else None
        label_style = dict(axis.labelStyle)
        width = axis.fixedWidth
        big_style = dict(label_style)
        if "font-size" in big_style:
            big_style["font-size"] = scaled_css_size(big_style["font-size"], PRESENT_FONT)
        else:
            big_style["font-size"] = f"{FONT_SIZE * PRESENT_FONT:.3g}pt"

        def look(font, css, w):
            def apply():
                axis.labelStyle = dict(css)
                axis.setStyle(tickFont=QFont(font) if font is not None else None)
                if w is not None:
                    axis.setWidth(w)
                axis._updateLabel()
            return apply

        self._add(look(tick, label_style, width),
                  look(scaled_font(tick if tick is not None else QFont(), PRESENT_FONT), big_style,
                       int(round(width * PRESENT_FONT)) if width is not None else None))

    def plot(self, plot: pg.PlotItem) -> None:
        """A plot's title (size and row height) and its left, bottom and right axes."""
        label = plot.titleLabel
        if label.maximumHeight() > 0 and label.text:
            size = label.opts.get("size", f"{FONT_SIZE + 1}pt")
            height = label.maximumHeight()

            def look(s, h):
                def apply():
                    label.setText(label.text, size=s)
                    _title_height(plot, h)
                return apply

            self._add(look(size, height), look(scaled_css_size(size, PRESENT_FONT),
                                               int(round(height * PRESENT_FONT))))
        for name in ("left", "bottom", "right"):
            self.axis(plot.getAxis(name))

    def legend(self, legend: pg.LegendItem) -> None:
        """A legend's label text (the entries it has now, and ones added later)."""
        size = legend.opts["labelTextSize"]
        big = scaled_css_size(size, PRESENT_FONT)

        def look(s):
            def apply():
                legend.opts["labelTextSize"] = s
                for _sample, label in legend.items:
                    label.setText(label.text, size=s)
                legend.updateSize()
            return apply

        self._add(look(size), look(big))
