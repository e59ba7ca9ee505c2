"""Your own target in the window: draw it, edit a mixture on the plot, open or export a file.

:class:`TargetTools` joins the drawing items of :mod:`ganviz.views.draw` to
the run. Whatever the user makes becomes a ``data`` value by the command
line's own path, applied as any edit of the controls is (validated first; a
bad one gets one message and leaves the run as it was):

- a 2-D drawing: its points, ``points:drawn#DIGEST@kde:H``
  (:func:`ganviz.core.points.register_points`); p_data is their Gaussian
  kernel estimate with H half the finest brush radius used (the std of one
  dab along an axis), so the shape drawn is the shape learned;
- a 1-D drawing: the drawn bins become 4000 points at evenly spaced quantiles
  of the drawn curve (:func:`ganviz.core.points.points_from_histogram`), then
  as in 2-D with H one bin wide. Points, not a new kind of density: the
  drawing is kept bit for bit in sessions and presets as any loaded target
  is, and p_data is a stated estimate (the drawn histogram smoothed by a
  kernel one bin wide);
- an edited mixture: its canonical ``mixture:`` text (exact density);
- a file (File > Open target, or dropped on the window): ``points:PATH``.

Once applied, the target is in the config: Reset, sessions and presets keep
it. A drawing applies when the user presses Train on the drawing bar, or Play.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QFileDialog, QLabel, QMenu, QPushButton, QSlider, QSpinBox, QToolBar,
)

from ganviz.core import datakey, mixture, points
from ganviz.core.config import ConfigError
from ganviz.views.draw import BRUSH, DENSITY, DrawOverlay, MixtureEditor

#: What File > Open target and drag and drop accept.
FILE_FILTER = "Points (*.csv *.txt *.tsv *.dat *.npy);;All files (*)"
#: Samples an exported mixture (or a named target) is written as.
EXPORT_SAMPLES = 2000
HINTS = {
    "draw2": "Draw the target: left button paints points, right button erases. "
             "Train (or Play) makes them the target.",
    "draw1": "Draw the target's curve: drag to set its height over x, right button lowers "
             "it to 0. Train (or Play) makes it the target.",
    "edit": "Mixture: drag a centre to move it, a ring handle to widen it, the wheel over a "
            "centre sets its weight; double-click adds a component, right-click removes one.",
}


class TargetTools(QObject):
    """The window's target tools: a drawing mode, a mixture editor, open, drop and export.

    Parameters
    ----------
    window : MainWindow
        Hosts the overlays in its 1-D and 2-D views and the menu entries.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.controller = window.controller
        self.overlays = {1: DrawOverlay(1), 2: DrawOverlay(2, seed=1)}
        self.editors = {1: MixtureEditor(1), 2: MixtureEditor(2)}
        for dim, view in ((1, window.view1d), (2, window.view2d)):
            view.add_overlay(self.overlays[dim])
            view.add_overlay(self.editors[dim])
        self.mode: str | None = None  # "draw" or "edit" while a tool is out
        self.dim = 2
        self._build_bar()
        self._build_note()
        self.actions: dict[str, QAction] = {}
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        for source in (window.controls, window.lecture):
            source.play_clicked.connect(self.on_play)  # beside the controller's toggle
        for shortcut in window.findChildren(QShortcut):  # Space plays too
            if shortcut.key() == QKeySequence(Qt.Key.Key_Space):
                shortcut.activated.connect(self.on_play)
        self.controller.new_run.connect(self._on_new_run)
        self.controller.config_changed.connect(lambda _c: self.show_note())
        self.show_note()

    # --- building -----------------------------------------------------------------

    def _build_bar(self) -> None:
        bar = QToolBar("Target tools")
        bar.setObjectName("target-tools")
        bar.setMovable(False)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setMinimumWidth(440)
        bar.addWidget(self.hint)
        bar.addSeparator()
        self.brush = QSlider(Qt.Orientation.Horizontal)
        self.brush.setRange(1, 20)  # % of the view's span / 2 ... 10
        self.brush.setValue(int(round(BRUSH * 200)))
        self.brush.setFixedWidth(110)
        self.brush.setToolTip("Brush radius, a share of the view's span")
        self.brush.valueChanged.connect(self._set_brush)
        self.brush_label = QLabel("Brush")
        self.density = QSpinBox()
        self.density.setRange(1, 100)
        self.density.setValue(DENSITY)
        self.density.setPrefix("points/dab ")
        self.density.setToolTip("Points each dab of the brush adds (density of the painting)")
        self.density.valueChanged.connect(self._set_density)
        self.erase = QCheckBox("Erase")
        self.erase.setToolTip("The left button erases too (the right button always does)")
        self.erase.toggled.connect(self._set_erase)
        self.brush_actions = [bar.addWidget(w) for w in
                              (self.brush_label, self.brush, self.density, self.erase)]
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Remove everything drawn")
        self.clear.clicked.connect(self.clear_drawing)
        self.clear_action = bar.addWidget(self.clear)
        self.count = QLabel()
        bar.addWidget(self.count)
        self.apply_button = QPushButton("Train on it")
        self.apply_button.setToolTip("Make this the target and train on it (Play does too)")
        self.apply_button.clicked.connect(self.apply_and_train)
        bar.addWidget(self.apply_button)
        cancel = QPushButton("Close")
        cancel.setToolTip("Put the tool away; the target in force stays")
        cancel.clicked.connect(self.close_tool)
        bar.addWidget(cancel)
        bar.setVisible(False)
        self.window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
        self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.bar = bar
        for overlay in self.overlays.values():
            overlay.changed.connect(self._show_count)
        for editor in self.editors.values():
            editor.changed.connect(self._show_count)

    def _build_note(self) -> None:
        """A line under the Data box saying when p_data is an estimate, from how many points."""
        controls = self.window.controls
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #ffd54f;")
        form = controls.data.parentWidget().layout()
        row, _role = form.getWidgetPosition(controls.data)
        form.insertRow(row + 1, "", self.note)

    def install(self, file_menu: QMenu) -> None:
        """File > Open target / Export target, and a Target menu before Help."""
        w = self.window
        before = getattr(w, "_quit_separator", None)

        def act(menu, key, text, slot, keys=None, tip="", at=None):
            a = QAction(text, w)
            if keys:
                a.setShortcut(QKeySequence(keys))
            a.setStatusTip(tip)
            a.setToolTip(tip)
            a.triggered.connect(slot)
            menu.insertAction(at, a) if at is not None else menu.addAction(a)
            self.actions.setdefault(key, a)
            return a

        act(file_menu, "open", "Open &target...", self.open_target_dialog, "Ctrl+Shift+O",
            "Train on your own points: a CSV or NPY file of 1 or 2 columns", before)
        act(file_menu, "export", "Export target as CSV...", self.export_target_dialog,
            tip="Save the target's points (or samples of a mixture, with its spec)", at=before)
        file_menu.insertSeparator(before)
        menu = QMenu("&Target", w)
        menu.setToolTipsVisible(True)
        w.menuBar().insertMenu(w.help_menu.menuAction(), menu)
        act(menu, "draw", "&Draw target", lambda: self.start_tool("draw"), "Ctrl+D",
            "Paint the target with the mouse (points in 2-D, a curve in 1-D)")
        act(menu, "edit", "&Edit mixture components", lambda: self.start_tool("edit"), "Ctrl+M",
            "Move, widen, weigh, add and remove the target's Gaussian components on the plot")
        menu.addSeparator()
        menu.addAction(self.actions["open"])
        menu.addAction(self.actions["export"])
        self.menu = menu

    # --- the tools ------------------------------------------------------------------

    @Slot()
    def start_tool(self, mode: str) -> None:
        """Take out the drawing tool (``draw``) or the mixture editor (``edit``); pauses the run."""
        self.close_tool()
        self.dim = 1 if self.window.stack.currentWidget() is self.window.view1d else 2
        view = self.window.view1d if self.dim == 1 else self.window.view2d
        self.mode = mode
        if not self.controller.paused:
            self.controller.pause()
        if mode == "draw":
            overlay = self.overlays[self.dim]
            if self.dim == 1:
                (x0, x1), _ = view.plot.vb.viewRange()
                overlay.set_range(x0, x1)
            elif overlay.empty:  # a loaded or drawn target is edited from its own points
                own = self._own_points()
                if own is not None and own.shape[1] == 2:
                    overlay.set_points(own)
            overlay.setVisible(True)
        else:
            self.editors[self.dim].set_components(*self._components(view))
            self.editors[self.dim].setVisible(True)
        for a in self.brush_actions:
            a.setVisible(mode == "draw" and self.dim == 2)
        self.clear_action.setVisible(mode == "draw")
        self.hint.setText(HINTS["edit" if mode == "edit" else f"draw{self.dim}"])
        self.apply_button.setText("Train on it" if mode == "draw" else "Apply and train")
        self._show_count()
        self.bar.setVisible(True)

    @Slot()
    def close_tool(self) -> None:
        """Put the tool away (what was drawn is kept for the next time)."""
        for item in (*self.overlays.values(), *self.editors.values()):
            item.setVisible(False)
        self.mode = None
        self.bar.setVisible(False)

    @Slot()
    def clear_drawing(self) -> None:
        self.overlays[self.dim].clear()

    def _set_brush(self, v: int) -> None:
        for o in self.overlays.values():
            o.brush = v / 200.0

    def _set_density(self, v: int) -> None:
        for o in self.overlays.values():
            o.density = int(v)

    def _set_erase(self, on: bool) -> None:
        for o in self.overlays.values():
            o.erase = bool(on)

    @Slot()
    def _show_count(self) -> None:
        if self.mode == "draw" and self.dim == 2:
            n = len(self.overlays[2].points)
            self.count.setText(f"{n:,} points")
        elif self.mode == "edit":
            m = len(self.editors[self.dim].weights)
            self.count.setText(f"{m} component{'s' if m != 1 else ''}")
        else:
            self.count.setText("")

    # --- applying --------------------------------------------------------------------

    def drawn_data(self) -> str:
        """The ``data`` value of what the tool out holds; ConfigError if it cannot be one."""
        if self.mode == "edit":
            e = self.editors[self.dim]
            return mixture.mixture_data(e.weights, e.means, e.stds)
        overlay = self.overlays[self.dim]
        if self.dim == 1:
            pts = points.points_from_histogram(overlay.edges, overlay.heights)
        else:
            pts = overlay.points
        data = points.register_points(pts, "drawn").data
        h = overlay.scale()
        if h is None:
            return data
        # The kernel as wide as the drawing's own grain (Scott's rule, made for one bump,
        # would blur a drawn shape into a blob); widened if the view grid cannot show it.
        for _ in range(12):
            try:
                return datakey.check_data(f"{data}@kde:{float(f'{h:.3g}')!r}")
            except ConfigError:
                h *= 1.5
        return data

    @Slot()
    def apply(self) -> bool:
        """Make the drawing or the edited mixture the target (a fresh run); False if refused."""
        if self.mode is None:
            return False
        try:
            data = self.drawn_data()
        except ConfigError as exc:
            what = "mixture" if self.mode == "edit" else "drawing"
            self.window.show_message("warn", f"The {what} is not a target yet: {exc}")
            return False
        return self._set_data(data)

    @Slot()
    def apply_and_train(self) -> None:
        if self.apply():
            self.close_tool()
            self.controller.play()

    @Slot()
    def on_play(self) -> None:
        """Play with a tool out: what it holds becomes the target first (if it can)."""
        if self.mode is None:
            return
        if self.mode == "draw" and self.overlays[self.dim].empty:
            return
        if self.apply():  # refused: a message, and the run goes on as it was
            self.close_tool()

    def _set_data(self, data: str) -> bool:
        if data == self.controller.config.data:
            return True
        self.window.on_params({"data": data})
        ok = self.controller.config.data == data
        if ok:
            self.show_note()
        return ok

    # --- what the target is -----------------------------------------------------------

    def _own_points(self) -> np.ndarray | None:
        data = self.controller.config.data
        if datakey.kind(data) != "points":
            return None
        try:
            return points.resolve_points(data).points
        except ConfigError:
            return None

    def _components(self, view):
        """(weights, means, stds) to edit: the target's modes, else one Gaussian mid-view."""
        data = self.controller.config.data
        if datakey.kind(data) == "mixture":
            spec = mixture.parse_mixture(data)
            return spec.weights, spec.means, spec.stds
        snap = self.controller.latest
        if snap is not None and snap.mode_centres is not None and snap.dim == self.dim:
            info = snap.extras.get("target", {})
            m = len(snap.mode_centres)
            w = info.get("weights")
            s = info.get("mode_stds")
            return (np.full(m, 1.0 / m) if w is None else w, snap.mode_centres,
                    np.full(m, 0.1) if s is None else s)
        (x0, x1), (y0, y1) = view.plot.vb.viewRange()
        centre = [0.5 * (x0 + x1), 0.5 * (y0 + y1)][: self.dim]
        return [1.0], [centre], [0.08 * (x1 - x0)]

    @Slot()
    def show_note(self) -> None:
        """The Data box's note: what p_data is when it is estimated from points."""
        try:
            note = datakey.describe_p_data(self.controller.config.data)
        except ConfigError:
            note = None
        self.note.setText(note["text"] if note else "")
        self.note.setVisible(note is not None)

    @Slot(object)
    def _on_new_run(self, snap) -> None:
        self.show_note()
        # The 1-D legend names p_data as what it is: exact, or an estimate from n points.
        info = snap.extras.get("target", {}) if snap is not None else {}
        n = info.get("n_points", 0)
        text = f"p_data (estimate from {n:,} points)" if info.get("estimated") else "p_data (exact)"
        legend = self.window.view1d.legend
        for sample, label in legend.items:
            if sample.item is self.window.view1d.p_data and label.text != text:
                label.setText(text, size=legend.opts["labelTextSize"])
                legend.updateSize()

    # --- files ----------------------------------------------------------------------

    @Slot()
    def open_target_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a target: your points",
                                              self.window._last_dir(), FILE_FILTER)
        if path:
            self.open_target(path)

    def open_target(self, path) -> bool:
        """Train on the points in ``path``; a bad file gets one message and the run goes on."""
        try:
            found = points.load_points(str(path))
        except ConfigError as exc:
            self.window.show_message("error", f"Target not opened: {exc}")
            return False
        self.close_tool()
        self.window._remember_dir(path)
        ok = self._set_data(found.data)
        if ok:
            self.window.show_message("info", f"Target: {len(found.points):,} points from "
                                             f"{Path(path).name}")
        return ok

    @Slot()
    def export_target_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the target as CSV",
                                              str(Path(self.window._last_dir()) / "target.csv"),
                                              "CSV (*.csv)")
        if path:
            self.export_target(path)

    def export_target(self, path) -> bool:
        """Write the target as CSV: its points, or samples of a mixture with its spec above.

        A named target is written as the real samples of the latest snapshot.
        """
        data = self.controller.config.data
        comment = ""
        try:
            if datakey.kind(data) == "points":
                pts = points.resolve_points(data).points
                comment = f"data: {data}"
            elif datakey.kind(data) == "mixture":
                pts = mixture.sample_mixture(mixture.parse_mixture(data), EXPORT_SAMPLES)
                comment = f"{EXPORT_SAMPLES} samples (seed 0) of\n{data}"
            else:
                snap = self.controller.latest
                if snap is None or snap.real is None:
                    self.window.show_message("warn", "Nothing to export yet: no samples drawn.")
                    return False
                pts = np.asarray(snap.real, dtype=np.float64)
                comment = f"{len(pts)} samples of the target {data}"
            points.export_points_csv(path, pts, comment)
        except (ConfigError, OSError) as exc:
            self.window.show_message("error", f"Target not exported: {exc}")
            return False
        self.window.show_message("info", f"Target written to {path} ({len(pts):,} rows).")
        return True

    # --- drag and drop ----------------------------------------------------------------

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt name
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if _dropped_file(event) is not None:
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            path = _dropped_file(event)
            if path is not None:
                event.acceptProposedAction()
                if path.lower().endswith(".json"):
                    self.window.open_session(path)  # a session dropped opens as one
                else:
                    self.open_target(path)
                return True
        return False


def _dropped_file(event) -> str | None:
    """The one local file a drag carries, else None."""
    mime = event.mimeData()
    if mime is None or not mime.hasUrls():
        return None
    urls = [u for u in mime.urls() if u.isLocalFile()]
    return urls[0].toLocalFile() if len(urls) == 1 else None
