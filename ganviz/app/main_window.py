"""The main window and :func:`run_gui`, the entry point the command line calls.

Layout: controls in a dock on the left; the 1-D or 2-D view large in the
middle; the time series in a column on the right (the panels the teacher
picks, View > Time series); a status bar below. Messages float over the top of
the plots, so a banner never moves them. The data view keeps at least half the
window's width down to 1280x720 (:func:`column_widths`). In presentation mode
the dock gives way to a one-line lecture bar. A 60 Hz timer draws the latest
snapshot, when a new one came (about 32 a second at full speed).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QSize, QTimer, Qt, Signal, Slot
from PySide6.QtGui import QAction, QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QScrollArea, QSplitter,
    QStackedWidget, QToolBar, QVBoxLayout, QWidget,
)

from ganviz.app import help as helptext
from ganviz.app.dynamics import open_lab
from ganviz.core.config import SNAPSHOT_INTERVAL, Config, ConfigError
from ganviz.views import style

#: The draw timer polls at 60 Hz: a snapshot is drawn within 16 ms of arriving,
#: and the ~32 snapshots a second are not lost to beats with a 30 Hz timer.
FRAME_MS = 16
#: The time series are redrawn every SERIES_EVERY frames, every SLOW_EVERY past LONG_HISTORY
#: points: they cost 20-30 ms a frame on one core (a 2-D view about 10 ms).
SERIES_EVERY, LONG_HISTORY, SLOW_EVERY = 3, 20_000, 4
#: Compare mode: panels of the small multiples drawn per frame at most (more take turns):
#: four 2-D panels cost about 20 ms a frame to draw and paint at 1600x1000.
PANELS_PER_FRAME = 4
#: ... and the overlaid series every COMPARE_SERIES_EVERY frames (5 a second at 30 frames
#: a second): each variant's curves in every panel take about 18 ms to paint.
COMPARE_SERIES_EVERY = 6
BANNER_STYLE = {
    "info": "background:#1f3b57; color:#e3f2fd; border:1px solid #3a6d99;",
    "warn": "background:#5a4a12; color:#fff8e1; border:1px solid #a68a1f;",
    "error": "background:#7a1f1f; color:#ffebee; border:1px solid #c62828; font-weight:bold;",
}
BADGE_STYLE = f"background: {style.BACKGROUND}; color: #e8e8e8; padding: 2px 8px;"
#: The controls dock: this share of the window's width, within these bounds (px).
DOCK_SHARE, DOCK_MIN, DOCK_MAX = 0.24, 290, 420
#: The time-series column: this share of the central area, within these bounds (px).
SERIES_SHARE, SERIES_MIN, SERIES_MAX = 0.3, 230, 560


def column_widths(width: int) -> tuple[int, int]:
    """(data view, time series) widths in px for a central area ``width`` px wide.

    The data view is the picture the class looks at: it keeps the larger share.
    """
    series = int(min(max(SERIES_SHARE * width, SERIES_MIN), SERIES_MAX))
    return max(width - series, 0), series


def dock_width(window_width: int) -> int:
    """Width in px of the controls dock in a window ``window_width`` px wide."""
    return int(min(max(DOCK_SHARE * window_width, DOCK_MIN), DOCK_MAX))


def badge_text(snap, compared: str | None = None) -> str:
    """One line naming what is in force for ``snap``: loss, k, rates, optimizer, frozen
    networks, iteration. Drawn over the data view, so a screenshot or recording carries it.
    ``compared``: a comparison's key, named once ("comparing k") instead of its value."""
    c = {k: v for k, v in (snap.config or {}).items() if k != compared}
    parts = [f"comparing {compared}"] if compared else []
    if "loss" in c:
        parts.append(str(c["loss"]))
    if "k" in c:
        parts.append(f"k {c['k']}")
    for key, name in (("lr_d", "lr D"), ("lr_g", "lr G")):
        if key in c:
            parts.append(f"{name} {float(c[key]):.3g}")
    if "optimizer" in c:
        parts.append(str(c["optimizer"]))
    frozen = [f"{n.upper()} frozen" for n in ("d", "g") if n in (snap.frozen or ())]
    parts += frozen
    parts.append(f"iteration {snap.step:,}")
    return "  \u00b7  ".join(parts)


class _DockScroll(QScrollArea):
    """The dock's scroll area: asks for a modest width (QScrollArea asks for up to
    36 text lines' width, which took half of a 1280 px window)."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt name
        return QSize(DOCK_MIN + 40, 600)


class _Overlay(QObject):
    """Keeps the floating banner across the top of the widget it floats over."""

    def __init__(self, banner: QLabel, over: QWidget) -> None:
        super().__init__(banner)
        self.banner, self.over = banner, over
        over.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt name
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.place()
        return False

    def place(self) -> None:
        width = max(self.over.width() - 16, 50)
        self.banner.setFixedWidth(width)
        self.banner.adjustSize()
        self.banner.move(self.over.x() + 8, self.over.y() + 6)
        self.banner.raise_()


class MainWindow(QMainWindow):
    """The ganviz window: controls, the live view of the data space, the time series."""

    #: After each frame drawn (recording listens).
    frame_drawn = Signal()

    def __init__(self, config: Config, preset: str | None = None, *, mode: str | None = None,
                 max_steps: int | None = None, screenshot: Path | None = None,
                 interval: float = SNAPSHOT_INTERVAL, draw: bool = True,
                 window_size: tuple[int, int] | None = None) -> None:
        super().__init__()
        from ganviz.app.controller import Controller
        from ganviz.app.controls import ControlPanel, LectureBar
        from ganviz.views.field1d import DensityView1D
        from ganviz.views.field2d import FieldView2D
        from ganviz.views.timeseries import TimeSeriesView

        self.setWindowTitle("ganviz: watch a GAN learn")
        # A size asked for (--window-size) is kept, in presentation mode too (a screenshot).
        self.window_size = tuple(window_size) if window_size else None
        self.resize(*(self.window_size or (1600, 1000)))
        self.screenshot = Path(screenshot) if screenshot else None
        self.exit_code = 0
        self.drawing = draw
        self.controller = Controller(config, mode, max_steps=max_steps, interval=interval,
                                     parent=self)
        self.controller.preset = preset or ""

        self.view1d = DensityView1D()
        self.view2d = FieldView2D()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view1d)
        self.stack.addWidget(self.view2d)
        from ganviz.views.multiples import CompareSeries, Multiples

        self.multiples = Multiples()  # compare mode: one panel per variant (page 2)
        self.stack.addWidget(self.multiples)
        self.compare_series = CompareSeries()
        self.compare_series.setVisible(False)
        self.series = TimeSeriesView()
        self.series.setMinimumWidth(SERIES_MIN)
        self.stack.setMinimumWidth(320)
        # What is in force, in a line under the data view: screenshots and recordings carry it.
        self.badge = QLabel()
        self.badge.setStyleSheet(BADGE_STYLE)
        self.badge.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.badge.setFont(QFont(self.badge.font().family(), style.FONT_SIZE - 1))
        self.badge.setToolTip("What is in force: the loss, k (D steps per G step), the "
                              "learning rates, the optimizer, frozen networks, the iteration")
        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.stack, 1)
        column.addWidget(self.badge)
        self.data_column = left
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.series)
        split.addWidget(self.compare_series)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)  # a wider window widens the data view
        self.split = split
        self._split_moved = False  # the teacher dragged the handle: keep their widths
        split.splitterMoved.connect(self._on_split_moved)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split, 1)
        self.setCentralWidget(central)
        # The banner floats over the plots' top edge: showing it moves nothing.
        self.banner = QLabel(central)
        self.banner.setWordWrap(True)
        self.banner.setVisible(False)
        font = self.banner.font()
        font.setPointSize(style.FONT_SIZE + 1)
        self.banner.setFont(font)
        self.banner.setMargin(6)
        self._overlay = _Overlay(self.banner, split)

        self.controls = ControlPanel(config, preset)
        scroll = _DockScroll()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(DOCK_MIN - 20)
        dock = QDockWidget("Controls")
        dock.setObjectName("controls")
        dock.setWidget(scroll)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        self.dock = dock
        self.lecture = LectureBar(config)
        bar = QToolBar("Lecture bar")
        bar.setObjectName("lecture")
        bar.setMovable(False)
        bar.addWidget(self.lecture)
        bar.setVisible(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.lecture_bar = bar
        self._dock_was_visible = True

        self.settings: QSettings | None = None  # run_gui gives one; tests need none
        self.presenting = False
        self._build_menus()
        from ganviz.app.export import Exporter

        self.exporter = Exporter(self)
        self.exporter.install(self.file_menu)

        self.status = {}
        for key in ("step", "rate", "device", "fps", "run"):
            label = QLabel()
            label.setMinimumWidth(110)
            self.statusBar().addPermanentWidget(label)
            self.status[key] = label
        self.statusBar().showMessage("starting the training process..." if
                                     self.controller.mode != "thread" else "starting...")

        c, p = self.controller, self.controls
        for source in (p, self.lecture):  # the dock and the lecture bar: the same requests
            source.params_changed.connect(self.on_params)
            source.speed_changed.connect(self.on_speed)
            source.play_clicked.connect(c.toggle)
            source.step_clicked.connect(c.step)
            source.reset_clicked.connect(c.reset)
        p.step_d_clicked.connect(c.step_d)
        p.step_g_clicked.connect(c.step_g)
        p.preset_chosen.connect(self.on_preset)
        p.layer_toggled.connect(self.on_layer)
        for view in (self.view2d, self.multiples):  # compare mode's panels take them too
            p.arrow_gain_changed.connect(view.set_arrow_gain)
            p.contrast_changed.connect(view.set_contrast)
            p.heatmap_changed.connect(view.set_heatmap)
        for view in (self.view1d, self.view2d, self.multiples):  # fields drawn over what is shown
            view.view_changed.connect(c.set_view)
        c.message.connect(self.show_message)
        c.config_changed.connect(self.on_config)
        c.state_changed.connect(self.on_state)
        c.new_run.connect(self.on_new_run)
        c.finished.connect(self.on_finished)
        c.session_opened.connect(self.on_session_opened)
        c.comparison_changed.connect(self.on_comparison)
        p.freeze_changed.connect(c.set_freeze)
        for keys, slot in ((Qt.Key.Key_Space, c.toggle), (Qt.Key.Key_S, c.step),
                           (Qt.Key.Key_D, c.step_d), (Qt.Key.Key_G, c.step_g),
                           (Qt.Key.Key_R, c.reset)):
            QShortcut(QKeySequence(keys), self, activated=slot)
        from ganviz.app.target import TargetTools

        self.target_tools = TargetTools(self)  # draw, edit, open, drop, export a target
        self.target_tools.install(self.file_menu)

        self._drawn_version = -1
        self._drawn_members: dict = {}  # compare mode: the snapshot drawn per variant
        self._frames = 0
        self._frame_times: list[float] = []
        self.fps = 0.0
        self._banner_timer = QTimer(self)
        self._banner_timer.setSingleShot(True)
        self._banner_timer.timeout.connect(self.hide_message)
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.on_frame)
        self.show_view(config.dim)
        self.on_state()

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.file_menu = bar.addMenu("&File")
        self.view_menu = bar.addMenu("&View")
        self.help_menu = bar.addMenu("&Help")

        def action(menu, text, slot, keys=None, checkable=False, tip=""):
            act = QAction(text, self, checkable=checkable)
            if keys:
                act.setShortcut(QKeySequence(keys))
            act.setStatusTip(tip)
            act.setToolTip(tip)
            (act.toggled if checkable else act.triggered).connect(slot)
            menu.addAction(act)
            return act

        action(self.file_menu, "&Open session...", self.open_session_dialog, "Ctrl+O",
               tip="Open a session file: its config, weights, optimizer state and history")
        action(self.file_menu, "&Save session...", self.save_session_dialog, "Ctrl+S",
               tip="Save the run as a session file to open later (python main.py file.json)")
        action(self.file_menu, "Open s&weep...", self.open_sweep_dialog,
               tip="Draw a sweep's phase diagram (ganviz sweep's folder or its results.csv); "
                   "a click on a cell opens that config and seed here")
        self.file_menu.addSeparator()
        self._quit_separator = self.file_menu.addSeparator()
        action(self.file_menu, "&Quit", self.close, "Ctrl+Q")
        self.presentation_action = action(
            self.view_menu, "&Presentation mode", self.set_presentation, "F11", checkable=True,
            tip="Full screen, large fonts and thick lines for a projector")
        self.controls_action = action(
            self.view_menu, "Show &controls", self.dock.setVisible, "H", checkable=True,
            tip="Show or hide the controls (more room for the plots)")
        self.controls_action.setChecked(True)
        self.dock.visibilityChanged.connect(self.controls_action.setChecked)
        panels = self.view_menu.addMenu("&Time series")
        panels.setToolTipsVisible(True)
        self.series_actions = {}
        for key, title in self.series.PANELS.items():
            act = action(panels, title, lambda on, k=key: self.set_series_panel(k, on),
                         checkable=True, tip=f"Show the {title} panel in the time-series column")
            act.setChecked(key in self.series.chosen())
            self.series_actions[key] = act
        self.compare_menu = bar.addMenu("&Compare")
        action(self.compare_menu, "&New comparison...", self.compare_dialog, "Ctrl+K",
               tip="Train variants of the current scenario side by side: one key, 2 to 6 values")
        self.leave_compare_action = action(self.compare_menu, "&Leave compare mode",
                                           self.controller.leave_compare,
                                           tip="Back to one run of the current scenario")
        self.leave_compare_action.setEnabled(False)
        action(self.view_menu, "&Dynamics lab", lambda: open_lab(self, self.controller),
               tip="Toy games you can solve (Dirac-GAN, bilinear game): the field, a trajectory "
                   "and the spectra of each update rule and regulariser")
        action(self.help_menu, "&Keyboard shortcuts", lambda: helptext.show_shortcuts(self))
        action(self.help_menu, "&What the plots show", lambda: helptext.show_guide(self))
        action(self.help_menu, "&Update rules and regularisers", lambda: helptext.show_options(self))
        action(self.help_menu, "&Theory: why the minimax gradient vanishes",
               lambda: helptext.theory_dialog(self).show())

    # --- layout ----------------------------------------------------------

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.resizeDocks([self.dock], [dock_width(self.width())], Qt.Orientation.Horizontal)
        self._fit_columns()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        self.resizeDocks([self.dock], [dock_width(self.width())], Qt.Orientation.Horizontal)
        self._fit_columns()

    @Slot()
    def _on_split_moved(self, *_args) -> None:
        self._split_moved = True

    def _fit_columns(self) -> None:
        """Data view and time series by :func:`column_widths`, unless the teacher dragged them."""
        if self._split_moved:
            return
        width = self.split.width() - self.split.handleWidth()
        if width > 0:
            self.split.blockSignals(True)
            data, series = column_widths(width)
            compare = self.controller.comparison is not None  # its own series column
            self.split.setSizes([data, 0 if compare else series, series if compare else 0])
            self.split.blockSignals(False)

    def set_series_panel(self, key: str, on: bool) -> None:
        """Show or hide one time-series panel (View > Time series); remembered."""
        self.series.set_panel(key, on)
        if key in self.series_actions:
            act = self.series_actions[key]
            act.blockSignals(True)
            act.setChecked(bool(on))
            act.blockSignals(False)
        if self.settings is not None:
            self.settings.setValue("series_panels", ",".join(self.series.chosen()))

    # --- lifecycle -------------------------------------------------------

    def start(self) -> None:
        """Start training and drawing."""
        self.controller.start()
        self.timer.start(FRAME_MS)

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt name
        self.timer.stop()
        self.save_settings()
        self.controller.shutdown(1.0)
        event.accept()

    # --- settings, presentation, sessions ----------------------------------

    def restore_settings(self, settings: QSettings) -> None:
        """Window geometry, dock layout and presentation mode of the last launch."""
        self.settings = settings
        geometry = settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = settings.value("window_state")
        if state is not None:
            self.restoreState(state)
        # Outside presentation mode (which hides the dock for the lecture bar).
        self.dock.setVisible(settings.value("controls_visible", True, type=bool))
        self.lecture_bar.setVisible(False)
        if settings.value("presentation", False, type=bool):
            self.set_presentation(True)
        chosen = settings.value("series_panels", None)
        if chosen is not None:
            keep = set(str(chosen).split(",")) if chosen else set()
            for key in self.series.PANELS:
                self.set_series_panel(key, key in keep)

    def save_settings(self) -> None:
        """Remember geometry, layout, preset and presentation mode for the next launch."""
        if self.settings is None:
            return
        s = self.settings
        if self.presenting:  # remember the normal window, not the full screen
            s.setValue("presentation", True)
        else:
            s.setValue("presentation", False)
            s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("controls_visible",
                   self._dock_was_visible if self.presenting else self.dock.isVisible())
        if self.controller.preset:
            s.setValue("last_preset", self.controller.preset)
        s.sync()

    @Slot(bool)
    def set_presentation(self, on: bool) -> None:
        """Presentation mode: full screen, large fonts, thick lines (F11)."""
        on = bool(on)
        if on == self.presenting:
            return
        self.presenting = on
        self.presentation_action.setChecked(on)
        for widget in (self.view1d, self.view2d, self.series, self.controls, self.multiples,
                       self.compare_series):
            widget.set_presentation(on)
        font = self.banner.font()
        font.setPointSize(int(round((style.FONT_SIZE + 1) * (style.PRESENT_FONT if on else 1.0))))
        self.banner.setFont(font)
        self.badge.setFont(QFont(self.badge.font().family(), int(round(
            (style.FONT_SIZE - 1) * (style.PRESENT_FONT if on else 1.0)))))
        for label in self.status.values():
            label.setFont(font if on else QApplication.font())
        self.lecture.set_presentation(on)
        # The dock gives way to the one-line lecture bar; it comes back as it was.
        if on:
            self._dock_was_visible = self.dock.isVisible()
            self.dock.setVisible(False)
        else:
            self.dock.setVisible(self._dock_was_visible)
        self.lecture_bar.setVisible(on)
        if self.window_size is None:
            self.showFullScreen() if on else self.showNormal()
        self._fit_columns()
        self._overlay.place()

    @Slot()
    def open_session_dialog(self) -> None:
        """Ask for a session file and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a ganviz session", self._last_dir(),
                                              "ganviz sessions (*.json);;All files (*)")
        if path:
            self.open_session(path)

    def open_session(self, path) -> bool:
        """Open a session file; an unreadable one leaves the run as it was."""
        ok = self.controller.open_session(path)
        if ok:
            self._remember_dir(path)
            self.show_view(self.controller.config.dim)
        return ok

    @Slot()
    def open_sweep_dialog(self) -> None:
        """Ask for a sweep's results.csv (or sweep.json) and draw its phase diagram."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a ganviz sweep", self._last_dir(),
                                              "sweep results (results.csv sweep.json);;"
                                              "All files (*)")
        if path:
            self.open_sweep(path)

    def open_sweep(self, path):
        """The sweep at ``path`` (a folder or its results.csv) in a window; None if unreadable."""
        from ganviz.app.sweep import open_sweep_window

        window = open_sweep_window(self, path)
        if window is not None:
            self._remember_dir(window.folder / "x")
        return window

    def open_config(self, config, preset: str = "", note: str = "", compare: str | None = None) -> None:
        """Run ``config`` afresh here, as from ``preset`` with changes (a sweep's cell).

        ``compare`` (``KEY=V1,V2,...``) trains its variants as a comparison.
        """
        self.controller.open_config(config, preset, note, compare)
        self.show_view(config.dim)

    @Slot()
    def save_session_dialog(self) -> None:
        """Ask where, then save the session (the run writes it at its next step)."""
        name = f"{self.controller.preset or 'ganviz'}-session.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save the ganviz session",
                                              str(Path(self._last_dir()) / name),
                                              "ganviz sessions (*.json)")
        if path:
            if not path.lower().endswith(".json"):
                path += ".json"
            self._remember_dir(path)
            self.controller.save_session(path)

    def _last_dir(self) -> str:
        if self.settings is not None:
            return str(self.settings.value("last_dir", str(Path.cwd())))
        return str(Path.cwd())

    def _remember_dir(self, path) -> None:
        if self.settings is not None:
            self.settings.setValue("last_dir", str(Path(path).parent))

    @Slot(str, str)
    def on_session_opened(self, preset: str, frozen: str) -> None:
        self.controls.show_preset(preset or None)
        self.controls.show_freeze("d" in frozen, "g" in frozen)

    # --- drawing ---------------------------------------------------------

    @Slot()
    def on_frame(self) -> None:
        """Draw the latest snapshot, if a new one came, and update the status bar."""
        c = self.controller
        snap = c.latest
        if snap is None or c.version == self._drawn_version:
            return
        self._drawn_version = c.version
        if self.drawing:
            self.draw_comparison() if c.comparison is not None else self.draw(snap)
            self.frame_drawn.emit()
        now = time.monotonic()
        self._frame_times.append(now)
        while self._frame_times and now - self._frame_times[0] > 1.0:
            self._frame_times.pop(0)
        self.fps = float(len(self._frame_times))
        self._status(snap)

    def draw(self, snap) -> None:
        """Draw ``snap`` and the histories into the views now."""
        self._frames += 1
        if snap.dim != self._dim:
            self.show_view(snap.dim)
        view = self.view1d if snap.dim == 1 else self.view2d
        view.draw(snap)
        every = SLOW_EVERY if self.controller.history.steps.n > LONG_HISTORY else SERIES_EVERY
        if self._frames % every == 0 or self.controller.paused:
            self.series.draw(self.controller.history, snap)

    def draw_comparison(self, everything: bool = False) -> None:
        """Draw each variant's new snapshot into its panel; the series every few frames."""
        comparison = self.controller.comparison
        self._frames += 1
        drawn = self._drawn_members
        n = len(comparison.latest)
        todo = [i for i in range(n) if comparison.latest[i] is not None
                and (everything or drawn.get(i) is not comparison.latest[i])]
        # At most PANELS_PER_FRAME panels a frame, taking turns: a frame of 6 to 8 2-D panels
        # would cost 6 to 8 times one view's.
        start = self._frames % n
        todo.sort(key=lambda i: (i - start) % n)
        if not everything and len(todo) > PANELS_PER_FRAME:
            todo = todo[:PANELS_PER_FRAME]
            self._drawn_version = -1  # the rest at the next frame
        for i in todo:
            drawn[i] = comparison.latest[i]
            self.multiples.draw(i, drawn[i])
        if everything or self._frames % COMPARE_SERIES_EVERY == 0 or self.controller.paused:
            self.compare_series.draw(comparison.histories, comparison.finals())

    @Slot(object)
    def on_comparison(self, comparison) -> None:
        """Compare mode on (small multiples, overlaid series) or off (one run's views)."""
        self._drawn_members = {}
        on = comparison is not None
        self.leave_compare_action.setEnabled(on)
        if on:
            self.multiples.set_members(self.controller.config.dim, comparison.labels)
            self.compare_series.set_members(comparison.labels, seeds=comparison.seeds)
            self.stack.setCurrentWidget(self.multiples)
        else:
            self.show_view(self.controller.config.dim)
        self.series.setVisible(not on)
        self.compare_series.setVisible(on)
        from ganviz.app.compare import mark_compared

        for panel in (self.controls, self.lecture):
            mark_compared(panel, comparison.key if on else None)
        self._fit_columns()

    @Slot()
    def compare_dialog(self) -> None:
        """Compare > New comparison: the dialog, then the comparison it validated."""
        from ganviz.app.compare import CompareDialog

        dialog = CompareDialog(self.controller.config, self)
        if dialog.exec() and dialog.result_comparison is not None:
            self.controller.compare(dialog.result_comparison)

    def _status(self, snap) -> None:
        c = self.controller
        text = badge_text(snap, c.comparison.key if c.comparison is not None else None)
        if text != self.badge.text():
            self.badge.setText(text)
        self.status["step"].setText(f"step {snap.step:,}")
        rate = "finished" if c.done else "paused" if c.paused else f"{c.steps_per_s:,.0f} it/s"
        self.status["rate"].setText(rate)
        note = f"; {snap.engine}" if snap.engine else ""  # e.g. the autograd engine, and why
        self.status["device"].setText(f"device {snap.device} ({c.mode}){note}")
        self.status["fps"].setText(f"{self.fps:.0f} frames/s")
        self.status["run"].setText(f"run {snap.run_id}")
        self.statusBar().clearMessage()

    def show_view(self, dim: int) -> None:
        self._dim = dim
        comparison = self.controller.comparison
        if comparison is not None:  # the panels follow the data's dimension
            if self.multiples.dim != dim:
                self.multiples.set_members(dim, comparison.labels)
                self._drawn_members = {}
            self.stack.setCurrentWidget(self.multiples)
        else:
            self.stack.setCurrentIndex(0 if dim == 1 else 1)
        self.controls.show_dim(dim)

    # --- slots -------------------------------------------------------------

    @Slot(dict)
    def on_params(self, changes: dict) -> None:
        """An edit in the controls: the controller validates it; the controls show the result."""
        if self.controller.set_params(changes):
            self.controls.show_config(self.controller.config)
            self.lecture.show_config(self.controller.config)
        if "data" in changes and self.controller.config.dim != self._dim:
            self.show_view(self.controller.config.dim)

    @Slot(str)
    def on_preset(self, name: str) -> None:
        if self.controller.load_preset(name) is not None:
            self.show_view(self.controller.config.dim)

    @Slot(object)
    def on_config(self, config) -> None:
        self.controls.show_config(config)
        self.lecture.show_config(config)

    @Slot(float)
    def on_speed(self, speed: float) -> None:
        self.controller.set_speed(speed)
        self.controls.show_speed(speed)
        self.lecture.show_speed(speed)

    @Slot()
    def on_state(self) -> None:
        c = self.controller
        self.controls.show_state(c.paused, c.dead or c.done)
        self.lecture.show_state(c.paused, c.dead or c.done)
        if not c.paused and not c.dead and self.banner.property("level") == "error":
            self.hide_message()

    @Slot(object)
    def on_new_run(self, snap) -> None:
        self.view1d.forget()
        self.view2d.forget()
        self.series.forget()
        self.multiples.forget()
        self.compare_series.forget()
        self._drawn_members = {}
        self.controls.reset_arrow_gain()  # a x1000 gain must not survive into the next run
        if snap.dim != self._dim:
            self.show_view(snap.dim)

    @Slot(int, str, bool)
    def on_layer(self, dim: int, key: str, on: bool) -> None:
        (self.view1d if dim == 1 else self.view2d).set_layer(key, on)
        if dim == self.multiples.dim:
            self.multiples.set_layer(key, on)

    @Slot(str, str)
    def show_message(self, level: str, text: str) -> None:
        """Show ``text`` in the banner; info fades after a few seconds, errors stay."""
        self.banner.setText(text)
        self.banner.setStyleSheet(BANNER_STYLE.get(level, BANNER_STYLE["info"]))
        self.banner.setProperty("level", level)
        self.banner.setVisible(True)
        self._overlay.place()
        self._banner_timer.stop()
        if self.screenshot is not None and level == "error":
            # A run that diverged is still a picture; one that failed is an error.
            self.exit_code = 1 if self.controller.dead else 0
            QTimer.singleShot(200, self.save_screenshot)
        if level == "info":
            self._banner_timer.start(6000)
        elif level == "warn":
            self._banner_timer.start(10000)

    @Slot()
    def hide_message(self) -> None:
        self.banner.setVisible(False)
        self.banner.setProperty("level", None)

    @Slot(object)
    def on_finished(self, event) -> None:
        """A run reached ``--steps``: with ``--screenshot``, print its final metrics, save, quit."""
        if self.screenshot is None:
            return
        import json

        snap = event.snapshot
        comparison = self.controller.comparison
        if comparison is not None:  # the object a headless comparison prints
            print(json.dumps(comparison.summary()), flush=True)
            self.draw_comparison(everything=True)
        else:
            from ganviz.core.datakey import with_p_data

            # the object a headless run prints, p_data's estimate note included
            print(json.dumps(with_p_data(event.metrics, event.metrics["config"]["data"])), flush=True)
            self.draw(snap)
            self.series.draw(self.controller.history, snap)  # the last measurement too
        self._drawn_version = self.controller.version
        self._status(snap)
        self.hide_message()
        self._shot_deadline = time.monotonic() + 10.0
        QTimer.singleShot(200, self._save_when_drawn)

    def _save_when_drawn(self) -> None:
        """Save once the data views' fields cover what they show (a view that grew at the
        last step has them drawn again over its new rectangle; each panel of a comparison),
        or after 10 s."""
        views = ([self.view1d if self._dim == 1 else self.view2d]
                 if self.controller.comparison is None else self.multiples.views)
        if not all(v.settled() for v in views) and time.monotonic() < self._shot_deadline:
            QTimer.singleShot(100, self._save_when_drawn)
            return
        self.save_screenshot()

    @Slot()
    def save_screenshot(self) -> None:
        """Save the window as PNG and close (``--screenshot``)."""
        QApplication.processEvents()
        ok = self.grab().save(str(self.screenshot))
        if ok:
            snap = self.controller.latest
            at = f" (step {snap.step})" if snap is not None else ""
            print(f"saved {self.screenshot}{at}", file=sys.stderr)
        else:
            print(f"ganviz: error: could not write {self.screenshot}", file=sys.stderr)
            self.exit_code = 1
        self.close()


def run_gui(config: Config, preset_name: str | None, qt_args: list[str], *,
            steps: int | None = None, screenshot: Path | None = None,
            session=None, session_path: Path | None = None, remembered: bool = False,
            window_size: tuple[int, int] | None = None, present: bool = False,
            compare: str | None = None) -> int:
    """Open the window on ``config`` (``--steps``: stop there; ``--screenshot``: save, quit).

    ``window_size``: (width, height) px, kept in presentation mode too (``--window-size``);
    ``present``: open in presentation mode (``--present``); ``compare``: open in
    compare mode on ``KEY=V1,V2,...`` (``--compare``, or a comparison preset).

    ``session``: a session the command line read (with its ``--set`` values
    applied), from ``session_path``. ``remembered``: nothing was asked for on
    the command line, so the last preset of the previous launch is loaded.
    Settings (geometry, presentation mode, last preset) are neither read nor
    written for a screenshot, so that one is reproducible. Ctrl+C in the
    terminal closes the window as its close button would.
    """
    import signal

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_args])
    app.setApplicationName("ganviz")
    font = QFont(app.font())
    font.setPointSize(style.FONT_SIZE)
    app.setFont(font)
    style.configure()
    if screenshot is not None and steps is None:
        from ganviz.core.presets import load_preset

        try:
            steps = load_preset(preset_name).steps if preset_name else 500
        except ConfigError:
            steps = 500
    settings = None if screenshot is not None else QSettings("ganviz", "ganviz")
    if settings is not None and remembered:
        from ganviz.core.presets import load_preset

        last = settings.value("last_preset", "")
        try:
            config, preset_name = load_preset(last).config, last
        except ConfigError:  # a preset that no longer exists: keep the default
            pass
    window = MainWindow(config, preset_name, max_steps=steps, screenshot=screenshot,
                        window_size=window_size)
    if settings is not None:
        window.restore_settings(settings)
        if window_size is not None:
            window.resize(*window_size)
    if present:
        window.set_presentation(True)
    if session is not None:
        window.controller.open(session, session_path or "the session")
        window.show_view(window.controller.config.dim)
    elif compare is not None:
        window.controller.compare(compare)
    # Python sees Ctrl+C only when it runs: the draw timer wakes it 60 times a second.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    window.show()
    window.start()
    code = app.exec()
    window.controller.shutdown(1.0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    return window.exit_code or code
