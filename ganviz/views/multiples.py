"""A comparison drawn as small multiples: one data view per variant, and the time series overlaid.

:class:`Multiples` lays out one :class:`~ganviz.views.field1d.DensityView1D`
or :class:`~ganviz.views.field2d.FieldView2D` per variant in a grid, each
under a title naming its value in the variant's colour, with linked axes so
that the same place is at the same spot in every panel.
:class:`CompareSeries` overlays the variants' losses, |grad G|, JS and
modes captured, one colour per variant with a legend above the plots, marks
the run's events, and for a comparison over seeds draws the modes captured
as a raster (one row per seed, one column per measurement) under "modes
captured: mean +- s.e.".
No torch: snapshots and histories are numpy.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from . import style
from .field2d import moved, nice_ticks
from .timeseries import JS_RANGE, LN2, SMOOTH_SHARE, DecadeAxis, EventMarkers, held, ref_line, smooth

#: Least height in px of a time-series panel: panels that would be lower are left out.
PANEL_MIN_PX = 110
#: Columns of the seeds' raster: even steps over the measured span.
RASTER_COLUMNS = 200
#: How long the small multiples gather their panels' reports of a view change, ms.
UNION_MS = 50
#: One colour per variant (up to 8), distinct on the dark background and from each other.
PALETTE = ("#4fc3f7", "#ff8a65", "#aed581", "#ba68c8", "#ffd54f", "#f06292", "#4db6ac",
           "#e0e0e0")


def colour(i: int) -> str:
    """Variant ``i``'s colour."""
    return PALETTE[i % len(PALETTE)]


def grid_shape(n: int, wide: bool = True) -> tuple[int, int]:
    """(rows, columns) of a grid for ``n`` panels: as square as a wide area allows."""
    cols = math.ceil(math.sqrt(n)) if n > 2 else n
    if wide and n == 3:
        cols = 3
    return math.ceil(n / cols), cols


def mean_se_text(values, what: str = "modes captured") -> str:
    """``"modes captured: 5.2 +- 0.4 (s.e. over 8 seeds)"``; "" for fewer than 2 finite values."""
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if len(a) < 2:
        return ""
    se = a.std(ddof=1) / math.sqrt(len(a))
    return f"{what}: {a.mean():.1f} \u00b1 {se:.1f} (s.e. over {len(a)} seeds)"


def cover(rects) -> tuple:
    """The smallest rectangle ((x0, x1), ...) that takes in every one of ``rects``."""
    rects = list(rects)
    return tuple((min(r[a][0] for r in rects), max(r[a][1] for r in rects))
                 for a in range(len(rects[0])))


def union(kind: str, wants) -> tuple | float:
    """What takes in every want: (x0, x1) for ``kind`` "x", ((x0, x1), (y0, y1)) for "xy",
    the largest top for "y"."""
    if kind == "y":
        return max(wants)
    if kind == "x":
        return cover((w,) for w in wants)[0]
    return cover(wants)


class SharedRange:
    """The range of linked panels, decided once for all of them.

    Each panel says what its own samples want (:meth:`want`); the first panel
    shows the union of the latest wants, and the others, linked to it, adopt
    it. Were each panel to set the shared range for its own samples, the
    range would change back and forth at every frame (and every panel be
    drawn twice).
    """

    def __init__(self, views: list) -> None:
        self.views = views
        self._wants: dict[str, dict[int, object]] = {}
        self.held = False  # the user panned or zoomed a panel: the range stays where they put it

    def leads(self, view) -> bool:
        """Whether ``view`` sets the range (the first panel)."""
        return not self.views or view is self.views[0]

    def want(self, view, kind: str, value) -> None:
        """``view``'s samples want ``value`` (see :func:`union`); show what all panels want."""
        wants = self._wants.setdefault(kind, {})
        wants[id(view)] = value
        if self.held:
            return
        leader = self.views[0]
        if not leader.has_range():  # the first panel has drawn nothing yet: it applies
            view.apply_range(kind, value)  # every want kept here when it draws; until then
            return  # the panel keeps its own (shown once the first panel sets the range)
        leader.apply_range(kind, union(kind, wants.values()))
        for other in self.views[1:]:
            other.adopt_range(kind, leader)

    def forget(self) -> None:
        self._wants.clear()
        self.held = False


def events_of(histories) -> list:
    """The variants' events ((step, label)), each once, in order of step: a change applied to
    every variant is one marker; a restart marks where each variant's new run began."""
    seen: dict = {}
    for h in histories:
        for event in getattr(h, "events", ()):
            seen.setdefault(tuple(event), None)
    return sorted(seen, key=lambda e: e[0])


def legend_html(legend, arrows=None, scales=()) -> str:
    """One line of rich text for a pyqtgraph legend's entries, each after a mark in its
    colour (a dot for samples, a dash for a line): it wraps in a narrow window, where the
    legend inside a small panel was cut. ``arrows``: the arrows' item, whose entry gives
    instead the |gradient| a full arrow stands for in each panel (``scales``, in the
    variants' colours; None where not drawn yet): the arrows are scaled per panel."""
    parts = []
    for sample, label in legend.items:
        item = sample.item
        if isinstance(item, pg.ScatterPlotItem):
            ink, mark = pg.mkBrush(item.opts["brush"]).color(), "\u25cf"
        else:
            pen = pg.mkPen(item.opts.get("pen"))
            dashed = pen.style() != Qt.PenStyle.SolidLine
            ink, mark = pen.color(), "- -" if dashed else "\u2014"
        text = label.text.replace("&", "&amp;").replace("<", "&lt;")
        if item is arrows:
            values = ", ".join(f'<span style="color:{colour(i)}">'
                               f'{"-" if s is None else f"{s:.2g}"}</span>'
                               for i, s in enumerate(scales))
            text = f"-grad of G's loss (a full arrow's |grad|: {values})"
        parts.append(f'<span style="color:{ink.name()}">{mark}</span>&nbsp;{text}')
    return "&nbsp;&nbsp;&nbsp; ".join(parts)


class Multiples(QWidget):
    """One data view per variant, titled by its value, axes linked to the first.

    In 2-D the panels share what they can, which leaves their width to the data: one
    legend under the grid (with each variant's full-arrow scale in its colour), and one
    colour bar beside it when every panel's heatmap has the same fixed scale (D as a
    probability, D*, the same raw output's range). When one panel has a scale of its
    own (a critic's fitted values), every panel keeps its own bar beside it: the panels
    then stay equally wide, as their linked, aspect-locked axes need.
    """

    #: The rectangle every panel shows (their axes are linked), as the single views send
    #: it: the members draw their fields over it.
    view_changed = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        body = QWidget()
        self.grid = QGridLayout(body)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        row.addWidget(body, 1)
        # The colour bar of the panels that share one scale.
        self.bar_view = pg.GraphicsLayoutWidget()
        self.bar_view.setFixedWidth(84)
        self.bar = pg.ColorBarItem(values=(0.0, 1.0), colorMap=style.d_colormap(),
                                   interactive=False, width=18)
        self.bar.axis.setStyle(tickFont=style.TICK_FONT)
        self.bar_view.addItem(self.bar)
        self.bar_view.setVisible(False)
        row.addWidget(self.bar_view)
        outer.addLayout(row, 1)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet(f"background:{style.BACKGROUND}; color:#eeeeee; padding:3px;")
        self.legend.setVisible(False)
        outer.addWidget(self.legend)
        self.presenter = style.Presenter()
        for key in ("left", "right"):
            self.presenter.axis(self.bar.getAxis(key))
        self.views: list = []
        self.titles: list[QLabel] = []
        self._cells: list[QWidget] = []
        self.shared = SharedRange(self.views)
        self._sent = None  # the union of the panels' rectangles, last sent
        self._shown: dict[int, tuple] = {}  # what each panel said it shows
        self._union_timer = QTimer(self)  # the panels' reports of one change, gathered
        self._union_timer.setSingleShot(True)
        self._union_timer.setInterval(UNION_MS)
        self._union_timer.timeout.connect(self._send_now)
        self.dim = None
        self._presenting = False
        self._layers: dict = {}
        self._settings: dict = {}  # heatmap, contrast, arrow gain: every panel's
        self._colour_scales: list = []  # each panel's fixed colour scale (None: its own)
        self._legend_text = None
        self.shared_scale = None  # the scale the shared bar draws, when it shows

    def set_members(self, dim: int, labels: list[str]) -> None:
        """Build one panel per label (a new comparison); the old panels go."""
        from .field1d import DensityView1D
        from .field2d import FieldView2D

        for cell in self._cells:
            self.grid.removeWidget(cell)
            cell.deleteLater()
        self.views, self.titles, self._cells = [], [], []
        self.shared = SharedRange(self.views)
        self._sent = None
        self._shown.clear()
        self._union_timer.stop()
        self.dim = dim
        rows, cols = grid_shape(len(labels))
        for i, text in enumerate(labels):
            cell = QWidget()
            lay = QVBoxLayout(cell)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(0)
            title = QLabel(text)
            title.setAlignment(Qt.AlignmentFlag.AlignCenter)
            title.setStyleSheet(f"background:{style.BACKGROUND}; color:{colour(i)}; "
                                "font-weight:bold; padding:2px;")
            view = DensityView1D() if dim == 1 else FieldView2D()
            view.shared = self.shared
            if self.views:  # linked axes: the same x (and y) range in every panel
                view.plot.setXLink(self.views[0].plot)
                view.plot.setYLink(self.views[0].plot)
                view.plot.disableAutoRange()  # the first panel's range, never its own
            view.view_changed.connect(lambda rect, i=i: self._send_union(i, rect))
            # One legend under the grid explains every panel (a legend inside a narrow
            # panel was cut).
            view.legend.setVisible(False)
            view.plot.setTitle(None)  # the panel's title is its value
            for key, on in self._layers.items():
                view.set_layer(key, on)
            if dim == 2:
                for name, value in self._settings.items():
                    getattr(view, name)(value)
            view.set_presentation(self._presenting)
            lay.addWidget(title)
            lay.addWidget(view, 1)
            self.grid.addWidget(cell, i // cols, i % cols)
            self.views.append(view)
            self.titles.append(title)
            self._cells.append(cell)
        self._colour_scales = [None] * len(self.views)
        self._legend_text = None
        self._share_bar()
        self._update_legend()
        self._fonts()

    def _send_union(self, i: int, shown) -> None:
        """Panel ``i`` shows ``shown``: send the union of what the panels show, once they
        have all said so. With the aspect locked, panels of different widths (their colour
        bars' labels differ) show different rectangles, and every member's fields must
        cover its own panel. The linked panels report one change one after the other: a
        union sent at each report would ask every member for new fields several times
        (each a heavy measurement in the training process)."""
        self._shown[i] = shown
        self._union_timer.start()

    def _send_now(self) -> None:
        if not self._shown:
            return
        rect = cover(self._shown.values())
        if moved(self._sent, rect):
            self._sent = rect
            self.view_changed.emit(rect)

    def draw(self, i: int, snap) -> None:
        """Draw variant ``i``'s snapshot into its panel."""
        if 0 <= i < len(self.views):
            view = self.views[i]
            view.draw(snap)
            if self.dim == 2:
                self._after_draw(i, view)
            elif i == 0:  # the 1-D legend's words follow the first panel's (p_g cut, D*)
                self._update_legend()

    def _after_draw(self, i: int, view) -> None:
        """What a 2-D panel's draw changed of the shared parts: cheap comparisons."""
        scale = view.colour_scale()
        if scale != self._colour_scales[i]:
            self._colour_scales[i] = scale
            self._share_bar()
        self._update_legend()

    def _share_bar(self) -> None:
        """One bar beside the grid when every panel's heatmap has the same fixed scale;
        otherwise each panel keeps its own (a panel without one would be wider than the
        others, and the linked, aspect-locked axes would then show each a different span)."""
        scales = self._colour_scales
        shared = scales[0] if scales and scales[0] is not None and all(
            s == scales[0] for s in scales) else None
        self.shared_scale = shared
        for view in self.views:
            if hasattr(view, "show_colour_bar"):
                view.show_colour_bar(shared is None)
        self.bar_view.setVisible(shared is not None)
        if shared is None:
            return
        label, levels = shared
        ticks, unit = nice_ticks(*levels)
        self.bar.setLevels(levels)
        self.bar.axis.setTicks([ticks])
        self.bar.getAxis("left").setLabel(f"{label}{f' ({unit})' if unit else ''}, every panel")

    def _update_legend(self) -> None:
        """The shared legend: the first panel's entries; in 2-D the arrows' scale, which
        differs per panel, as each variant's number in its colour."""
        if not self.views:
            self.legend.setVisible(False)
            return
        view = self.views[0]
        if self.dim == 2:
            text = legend_html(view.legend, arrows=view.arrows,
                               scales=[v.arrow_scale for v in self.views])
        else:
            text = legend_html(view.legend)
        if text != self._legend_text:
            self._legend_text = text
            self.legend.setText(text)
        self.legend.setVisible(True)

    def forget(self) -> None:
        self.shared.forget()
        self._sent = None
        self._shown.clear()
        for view in self.views:
            view.forget()

    def set_layer(self, key: str, on: bool) -> None:
        self._layers[key] = on
        for view in self.views:
            view.set_layer(key, on)
        if self.dim == 2:
            self._colour_scales = [v.colour_scale() for v in self.views]
            self._share_bar()
            self._update_legend()

    def _set_all(self, name: str, value) -> None:
        """A 2-D setting of the controls (heatmap, contrast, arrow gain) for every panel."""
        self._settings[name] = value
        if self.dim == 2:
            for i, view in enumerate(self.views):
                getattr(view, name)(value)
                self._after_draw(i, view)

    def set_heatmap(self, kind: str) -> None:
        """What every 2-D panel's heatmap shows (FieldView2D.set_heatmap)."""
        self._set_all("set_heatmap", kind)

    def set_contrast(self, factor: float) -> None:
        self._set_all("set_contrast", factor)

    def set_arrow_gain(self, gain: float) -> None:
        self._set_all("set_arrow_gain", gain)

    def set_presentation(self, on: bool) -> None:
        self._presenting = bool(on)
        for view in self.views:
            view.set_presentation(on)
        self.presenter.set(on)
        self._fonts()

    def _fonts(self) -> None:
        size = (style.FONT_SIZE + 1) * (style.PRESENT_FONT if self._presenting else 1.0)
        for title in self.titles:
            font = QFont(title.font())
            font.setPointSize(int(round(size)))
            title.setFont(font)
        small = style.FONT_SIZE * (style.PRESENT_FONT if self._presenting else 1.0)
        font = QFont(self.legend.font())
        font.setPointSize(int(round(small)))
        self.legend.setFont(font)


class CompareSeries(QWidget):
    """The variants' time series overlaid: one colour per variant, a legend, event markers.

    Panels: the losses of D and of G (per iteration, smoothed), JS (measured)
    and, on a mixture target, the modes captured; over seeds also the raster
    of modes captured and the mean +- s.e. line.
    """

    PANELS = ("loss_d", "loss_g", "grad_g", "js", "modes", "raster")
    #: Which panels stay when not all fit, the first ones first (over seeds: SEED_PRIORITY).
    PRIORITY = ("loss_d", "js", "grad_g", "modes", "loss_g")
    SEED_PRIORITY = ("raster", "modes", "js", "loss_d", "grad_g", "loss_g")
    TITLES = {"loss_d": "loss of D", "loss_g": "loss of G", "grad_g": "|grad G| (log axis)",
              "js": "JS divergence (nats)", "modes": "modes captured",
              "raster": "modes captured, per seed"}

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        self.summary = QLabel("")
        self.summary.setStyleSheet(f"background:{style.BACKGROUND}; color:{style.ACCENT}; "
                                   "padding:3px; font-weight:bold;")
        self.summary.setVisible(False)
        self.summary.setWordWrap(True)  # one line wide forced a 1280 px window wider
        # The legend: each variant's name in its colour, above the plots (it never covers
        # a curve, and stays readable when the panels are small).
        self.key = QLabel("")
        self.key.setWordWrap(True)
        self.key.setStyleSheet(f"background:{style.BACKGROUND}; padding:3px; font-weight:bold;")
        self.graphics = pg.GraphicsLayoutWidget()
        lay.addWidget(self.key)
        lay.addWidget(self.summary)
        lay.addWidget(self.graphics, 1)
        self.presenter = style.Presenter()
        self.plots: dict[str, pg.PlotItem] = {}
        for row, key in enumerate(self.PANELS):
            # |grad G|'s log axis labelled at decades, as the single run's (pyqtgraph's own
            # crowded 0.001-0.009 on top of each other).
            axes = {"left": DecadeAxis("left")} if key == "grad_g" else None
            plot = self.graphics.addPlot(row=row, col=0, axisItems=axes)
            style.style_plot(plot, self.TITLES[key], bottom="iteration")
            plot.setMenuEnabled(False)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.getAxis("left").setWidth(52)
            if row:
                plot.setXLink(self.plots["loss_d"])
            self.plots[key] = plot
        self.raster = pg.ImageItem(axisOrder="row-major")
        self.raster.setLookupTable(style.density_lut(style.GEN, 255))
        self.plots["raster"].addItem(self.raster)
        self.plots["grad_g"].setLogMode(y=True)  # gradients differ by decades between variants
        # JS on the single run's fixed scale: variants pinned near ln 2 read as such (a fitted
        # axis spread 0.6931 +- 1e-6 over the panel, with labels too long to show).
        ref_line(self.plots["js"], LN2, "ln 2: no overlap", below=True)
        self.plots["js"].setYRange(*JS_RANGE, padding=0)
        self.plots["raster"].setLabel("left", "seed")
        self.curves: dict[str, list] = {k: [] for k in ("loss_d", "loss_g", "grad_g", "js",
                                                         "modes")}
        self.markers = EventMarkers()
        self._events: list = []
        self._shown: list[str] = []
        self._mixture = False
        self._labels: list[str] = []
        self.seeds = False
        # Event labels are placed again once the step axis has moved (it ranges itself
        # after a draw), on a timer owned by the view, as in the single run's series.
        self._label_timer = QTimer(self)
        self._label_timer.setSingleShot(True)
        self._label_timer.setInterval(0)
        self._label_timer.timeout.connect(self._place_labels)
        self.plots["loss_d"].sigXRangeChanged.connect(self._label_timer.start)
        self._show(mixture=False)

    def set_members(self, labels: list[str], seeds: bool = False) -> None:
        """One curve per variant in every panel (a new comparison)."""
        for key, items in self.curves.items():
            for item in items:
                self.plots[key].removeItem(item)
            items.clear()
        self._labels = list(labels)
        self.key.setText("&nbsp;&nbsp; ".join(f'<span style="color:{colour(i)}">■&nbsp;{t}</span>'
                                              for i, t in enumerate(labels)))
        self.seeds = seeds
        for i, text in enumerate(labels):
            for key in self.curves:
                item = pg.PlotDataItem(pen=style.pen(colour(i), 1.5))
                self.plots[key].addItem(item)
                self.curves[key].append(item)
                self.presenter.curve(item)
        self.forget()

    def forget(self) -> None:
        for items in self.curves.values():
            for item in items:
                item.setData([], [])
        self.raster.clear()
        self.summary.setText("")
        self.summary.setVisible(False)
        self._events = []
        self.markers.clear()
        self._show(mixture=False)

    def set_presentation(self, on: bool) -> None:
        self.presenter.set(on)
        font = QFont(self.summary.font())
        font.setPointSize(int(round((style.FONT_SIZE + 1) * (style.PRESENT_FONT if on else 1))))
        self.summary.setFont(font)
        self.key.setFont(font)

    def draw(self, histories: list, finals: list | None = None) -> None:
        """Draw every variant's curves from its :class:`~ganviz.core.history.History`.

        ``finals``: each variant's latest modes captured, for the mean +- s.e. line
        (None where not measured).
        """
        mixture = False
        for i, h in enumerate(histories[: len(self.curves["loss_d"])]):
            s = h.steps
            if s.n:
                width = max(1, int(s.n * SMOOTH_SHARE))
                for key, name in (("loss_d", "loss_d"), ("loss_g", "loss_g"),
                                  ("grad_g", "grad_norm_g")):
                    y = s.y(name)
                    if key == "grad_g":
                        y = np.maximum(y, 1e-12)  # a log axis: no zero
                    self.curves[key][i].setData(s.x, smooth(y, width) if width > 1 else y)
            m = h.measured
            if m.n:
                self.curves["js"][i].setData(*held(m.x, m.y("js")))
                total = m.y("modes_total")
                if np.isfinite(total).any() and np.nanmax(total) > 1:
                    mixture = True
                    self.curves["modes"][i].setData(*held(m.x, m.y("modes_captured")))
        self._show(mixture)
        if self.seeds and mixture:
            self._draw_raster(histories)
            text = mean_se_text(finals or [])
            self.summary.setText(text)
            self.summary.setVisible(bool(text))
        # The ranges follow the new data now: pyqtgraph would fit them while painting, and
        # the axes that then change would paint everything a second time.
        for key in self._shown:
            vb = self.plots[key].vb
            vb.updateAutoRange()
            vb.updateMatrix()  # what pyqtgraph does before a paint: the labels map through it
        self._draw_events(events_of(histories))
        self._label_timer.stop()  # placed for the new range just now

    def _draw_raster(self, histories) -> None:
        """Rows: seeds; columns: RASTER_COLUMNS even steps from the first measurement to the
        last; value: each seed's modes captured as last measured (held, as the curves)."""
        ms = [h.measured for h in histories if h.measured.n]
        if not ms:
            return
        lo, hi = min(m.x[0] for m in ms), max(m.x[-1] for m in ms)
        steps = np.linspace(lo, hi, RASTER_COLUMNS) if hi > lo else np.array([lo])
        rows = []
        for h in histories:
            m = h.measured
            row = np.full(len(steps), np.nan)
            if m.n:
                idx = np.searchsorted(m.x, steps, side="right") - 1
                ok = idx >= 0
                row[ok] = m.y("modes_captured")[idx[ok]]
            rows.append(row)
        image = np.nan_to_num(np.array(rows), nan=0.0)
        total = np.nanmax(ms[0].y("modes_total"))
        span = float(steps[-1] - steps[0]) if len(steps) > 1 else 1.0
        self.raster.setImage(image, levels=(0, max(float(total), 1.0)))
        self.raster.setRect(float(steps[0]), -0.5, max(span, 1.0), float(len(rows)))

    def _draw_events(self, events: list) -> None:
        """Every event of the variants on each panel shown; the labels on the top one."""
        self._events = events
        self.markers.draw([self.plots[k] for k in self._shown], events)
        self._place_labels()

    def _place_labels(self) -> None:
        if self._shown:
            self.markers.place(self.plots[self._shown[0]].vb)

    def marker_labels(self) -> list[tuple[float, str]]:
        """(step, label) of every event marker drawn, in the order drawn (top panel)."""
        return self.markers.labels()

    def close(self) -> bool:
        """Stop placing event labels first: closing clears the scene under them."""
        self._label_timer.stop()
        return super().close()

    def _show(self, mixture: bool | None = None) -> None:
        """Show the panels that apply (modes on a mixture, the raster over seeds) and fit:
        each keeps PANEL_MIN_PX at least, the least important left out first."""
        if mixture is not None:
            self._mixture = mixture
        mixture = self._mixture
        wanted = [k for k in (self.SEED_PRIORITY if self.seeds else self.PRIORITY)
                  if (k != "modes" or mixture) and (k != "raster" or (mixture and self.seeds))]
        fit = max(1, int(self.graphics.height() // PANEL_MIN_PX)) if self.isVisible() else 9
        keep = set(wanted[:fit])
        shown = [k for k in self.PANELS if k in keep]
        if shown == self._shown:  # unchanged: a layout pass here would repaint every panel
            return
        layout = self.graphics.ci.layout
        for i, (key, plot) in enumerate(self.plots.items()):
            on = key in keep
            plot.setVisible(on)  # a hidden panel gives its height to the others
            plot.setMaximumHeight(10_000 if on else 0)
            plot.setMinimumHeight(0)
            layout.setRowStretchFactor(i, 1 if on else 0)
            layout.setRowMaximumHeight(i, 10_000 if on else 0)
        for key, plot in self.plots.items():  # one step axis label, at the bottom
            plot.getAxis("bottom").setLabel("iteration" if shown and key == shown[-1] else None)
        self._shown = shown  # the markers follow the panels shown
        self._draw_events(self._events)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)
        self._show()
