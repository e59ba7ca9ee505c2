"""Export: the window or one plot as PNG or SVG, the metrics history as CSV, a recording
(:mod:`ganviz.app.recording`) as GIF or MP4, and the File menu entries for them
(:class:`Exporter`).

Qt, pyqtgraph, imageio and numpy only: this module never imports torch (the
views and the app see numpy snapshots, never tensors). The save functions
raise ``OSError`` or ``ValueError`` with a readable message; :class:`Exporter`
turns those into a banner message, never a crash.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QPoint, QRectF, Slot
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QFileDialog, QGraphicsItem, QGraphicsView, QLabel, QMenu, QProgressDialog,
)

from ganviz.app.recording import Recorder, describe_error, ffmpeg_missing
from ganviz.core.files import atomic_open, write_atomic
from ganviz.core.history import MetricsCsv

#: User-facing names of the time-series plots (``TimeSeriesView.plots`` keys).
SERIES_NAMES = {
    "loss": "Losses of D and G",
    "js": "JS divergence",
    "grad": "Gradient norms",
    "dout": "D(real) and D(fake)",
    "modes": "Modes captured",
}
IMAGE_FILTERS = "PNG image (*.png);;SVG vector image (*.svg)"
VIDEO_FILTERS = "MP4 video (*.mp4);;GIF animation (*.gif)"
CSV_FILTERS = "CSV table (*.csv)"


# --- images ------------------------------------------------------------------


def _write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (Python's open, so a failure says why)."""
    write_atomic(path, data)


def _png_bytes(image: QImage) -> bytes:
    """``image`` encoded as PNG (QImage.save to a file gives no reason when it fails)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the image as PNG")
    buffer.close()
    return bytes(data)


def _svg_bytes(width: float, height: float, paint, title: str = "ganviz") -> bytes:
    """An SVG document of ``width`` x ``height`` px drawn by ``paint(painter)``."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buffer)
    gen.setResolution(96)  # so that viewers show it at its size in pixels
    gen.setSize(QRectF(0, 0, width, height).toAlignedRect().size())
    gen.setViewBox(QRectF(0, 0, width, height))
    gen.setTitle(title)
    painter = QPainter(gen)
    try:
        paint(painter)
    finally:
        painter.end()
    return bytes(buffer.data())


@contextmanager
def _vector_mode(scenes, painter: QPainter):
    """Paint ``scenes`` as vectors: pyqtgraph's export mode on, item pixmap caches off.

    Otherwise scatter symbols come out as one small embedded image each (from
    pyqtgraph's symbol atlas) and cached axes as pictures.
    """
    items = [item for scene in scenes for item in scene.items()]
    no_cache = QGraphicsItem.CacheMode.NoCache
    cached = [(item, item.cacheMode()) for item in items if item.cacheMode() != no_cache]
    exported = [item for item in items if hasattr(item, "setExportMode")]
    opts = {"antialias": True, "painter": painter, "resolutionScale": 1.0}
    for item, _ in cached:
        item.setCacheMode(no_cache)
    for item in exported:
        item.setExportMode(True, opts)
    try:
        yield
    finally:
        for item in exported:
            item.setExportMode(False)
        for item, mode in cached:
            item.setCacheMode(mode)


def save_widget_png(widget, path) -> None:
    """Save what ``widget`` shows (the whole window, say) as a PNG."""
    _write_bytes(path, _png_bytes(widget.grab().toImage()))


def save_widget_svg(widget, path) -> None:
    """Save ``widget`` as an SVG: the plots as vectors, text as text."""
    scenes = {view.scene() for view in widget.findChildren(QGraphicsView) if view.scene()}

    def paint(painter: QPainter) -> None:
        with _vector_mode(scenes, painter):
            widget.render(painter, QPoint(0, 0))

    _write_bytes(path, _svg_bytes(widget.width(), widget.height(), paint))


def save_plot_png(plot, path, scale: float = 2.0) -> None:
    """Save one pyqtgraph PlotItem as a PNG, ``scale`` times its size on screen."""
    from pyqtgraph.exporters import ImageExporter

    exporter = ImageExporter(plot)
    width = max(1, int(round(plot.sceneBoundingRect().width() * scale)))
    exporter.parameters()["width"] = width  # the height follows the aspect ratio
    image = exporter.export(toBytes=True)
    _write_bytes(path, _png_bytes(image))


def save_plot_svg(plot, path) -> None:
    """Save one pyqtgraph PlotItem as an SVG: the scene within the plot's rectangle.

    Why not pyqtgraph's SVGExporter: it walks the plot's own children and so
    drops the 1-D view's D(x) axis, a ViewBox laid over the plot at scene level.
    """
    rect = plot.sceneBoundingRect()
    scene = plot.scene()
    views = scene.views()
    background = views[0].backgroundBrush() if views else QColor("black")

    def paint(painter: QPainter) -> None:
        target = QRectF(0, 0, rect.width(), rect.height())
        painter.fillRect(target, background)
        with _vector_mode([scene], painter):
            scene.render(painter, target, rect)

    _write_bytes(path, _svg_bytes(rect.width(), rect.height(), paint))


def save_image(target, path) -> None:
    """Save a widget or a PlotItem as PNG or SVG, by the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    is_widget = hasattr(target, "grab")
    if suffix == ".png":
        (save_widget_png if is_widget else save_plot_png)(target, path)
    elif suffix == ".svg":
        (save_widget_svg if is_widget else save_plot_svg)(target, path)
    else:
        raise ValueError(f"cannot export as '{suffix or 'no suffix'}': use .png or .svg")


def _title(plot) -> str:
    """The plain text of a plot's title (without its colour markup)."""
    import re

    text = getattr(plot.titleLabel, "text", "") or ""
    return re.sub(r"<[^>]+>", "", text).strip()


def plot_items(window) -> dict:
    """The plots a user can export now, by user-facing name: the current view's, then the series."""
    items = {}
    view = window.stack.currentWidget()
    if view is getattr(window, "view1d", None):
        items["Densities and D(x)"] = view.plot
        if getattr(view, "strip", None) is not None:
            items["Samples: z -> x strip"] = view.strip
    elif view is getattr(window, "view2d", None):
        items["Data space: D(x) and samples"] = view.plot
    for key, plot in window.series.plots.items():
        if plot.isVisible():  # the modes plot hides for a single-mode target
            items[SERIES_NAMES.get(key) or _title(plot) or key] = plot
    return items


# --- metrics history ------------------------------------------------------


def save_history_csv(history, path) -> int:
    """Write the metrics history as the metrics CSV (the columns of ``--csv``); the row count.

    Past the history's point limit the per-iteration values are block means
    (the row's step is the last of its block), so a long run has fewer rows
    than iterations.
    """
    with atomic_open(path, "w", newline="") as handle:
        if hasattr(history, "write_csv"):  # a comparison: its variants, a variant column first
            return history.write_csv(handle)
        return MetricsCsv(handle).write(*history.columns())


# --- the menu -------------------------------------------------------------------


class Exporter(QObject):
    """The File menu's export and recording entries for a MainWindow.

    The dialogs go through :meth:`ask_path` alone; the work is in
    :meth:`save_window`, :meth:`save_plot`, :meth:`save_csv` and
    :meth:`save_recording`, which take a path (tests call them directly).
    Errors go to ``window.show_message("error", ...)``.
    """

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.recorder = Recorder(window, parent=self)
        self.recorder.frames_changed.connect(self._on_frames)
        self.recorder.stopped.connect(self._on_stopped)
        self.recorder.progress.connect(self._on_progress)
        self.recorder.saved.connect(self._on_saved)
        self.actions: dict = {}
        self.plot_menu: QMenu | None = None
        self.progress_dialog: QProgressDialog | None = None
        self.rec_label = QLabel()
        self.rec_label.setStyleSheet("color:#ff5252; font-weight:bold;")
        self.rec_label.setVisible(False)
        window.statusBar().addPermanentWidget(self.rec_label)

    def install(self, menu: QMenu, before: QAction | None = None) -> None:
        """Add the export entries to ``menu`` (in the File menu: above Quit)."""
        if before is None and menu is getattr(self.window, "file_menu", None):
            before = getattr(self.window, "_quit_separator", None)

        def add(key, text, slot, keys=None, tip=""):
            act = QAction(text, self.window)
            if keys:
                act.setShortcut(QKeySequence(keys))
            act.setStatusTip(tip)
            act.setToolTip(tip)
            act.triggered.connect(slot)
            menu.insertAction(before, act)
            self.actions[key] = act
            return act

        add("window", "Export window as PNG/SVG...", self.export_window_dialog, "Ctrl+E",
            "Save the whole window as a PNG image or an SVG vector drawing")
        self.plot_menu = QMenu("Export &plot", self.window)
        self.plot_menu.setToolTipsVisible(True)
        self.plot_menu.aboutToShow.connect(self._fill_plot_menu)
        menu.insertMenu(before, self.plot_menu)
        add("csv", "Export metrics history as &CSV...", self.export_csv_dialog, "Ctrl+Shift+E",
            "Save the losses, JS, W1, gradient norms and modes at every recorded step")
        menu.insertSeparator(before)
        add("record", "Start &recording", self.toggle_recording, "Ctrl+R",
            "Record the plots as they are drawn; stop to save as MP4 or GIF")
        add("save_recording", "Save last recording...", self.save_recording_dialog,
            tip="Save the last recording again (another format or place)")
        self.actions["save_recording"].setEnabled(False)
        whole = add("record_window", "Record the whole window", self.record_whole_window,
                    tip="Record the controls and the status bar too, not only the plots")
        whole.setCheckable(True)
        menu.insertSeparator(before)

    # --- dialogs ---------------------------------------------------------------

    def ask_path(self, title: str, name: str, filters: str) -> str:
        """Ask where to save (``""`` when cancelled); the suffix follows the chosen filter."""
        start = getattr(self.window, "_last_dir", lambda: str(Path.cwd()))()
        path, chosen = QFileDialog.getSaveFileName(self.window, title, str(Path(start) / name),
                                                   filters)
        if not path:
            return ""
        if not Path(path).suffix and "*." in chosen:
            path += "." + chosen.split("*.")[1].split(")")[0]
        if hasattr(self.window, "_remember_dir"):
            self.window._remember_dir(path)
        return path

    def _name(self, what: str, suffix: str) -> str:
        """A default file name: preset, what, step."""
        c = self.window.controller
        step = c.latest.step if c.latest is not None else 0
        return f"{c.preset or 'ganviz'}-{what}-step{step}{suffix}"

    @Slot()
    def export_window_dialog(self) -> None:
        path = self.ask_path("Export the window", self._name("window", ".png"), IMAGE_FILTERS)
        if path:
            self.save_window(path)

    def export_plot_dialog(self, name: str) -> None:
        slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
        path = self.ask_path(f"Export the plot '{name}'", self._name(slug, ".png"), IMAGE_FILTERS)
        if path:
            self.save_plot(name, path)

    @Slot()
    def export_csv_dialog(self) -> None:
        path = self.ask_path("Export the metrics history", self._name("metrics", ".csv"),
                             CSV_FILTERS)
        if path:
            self.save_csv(path)

    @Slot()
    def toggle_recording(self) -> None:
        """Start recording, or stop and ask where to save (Ctrl+R)."""
        if not self.recorder.recording:
            self.start_recording()
        else:
            self.recorder.stop()
            self.save_recording_dialog()

    @Slot()
    def save_recording_dialog(self) -> None:
        suffix = ".mp4" if ffmpeg_missing() is None else ".gif"
        path = self.ask_path("Save the recording", self._name("recording", suffix), VIDEO_FILTERS)
        if path:
            self.save_recording(path)

    def _fill_plot_menu(self) -> None:
        """List the plots shown now (the view changes with the data's dimension)."""
        self.plot_menu.clear()
        for name in plot_items(self.window):
            act = self.plot_menu.addAction(name + "...")
            act.triggered.connect(lambda _=False, n=name: self.export_plot_dialog(n))

    def _set_action(self, key: str, text: str | None = None, enabled: bool | None = None) -> None:
        """Update an installed action (none before :meth:`install`)."""
        act = self.actions.get(key)
        if act is None:
            return
        if text is not None:
            act.setText(text)
        if enabled is not None:
            act.setEnabled(enabled)

    # --- the work --------------------------------------------------------------

    def _fail(self, path, exc: BaseException) -> bool:
        self.window.show_message("error", f"Could not export to {path}: {describe_error(exc)}")
        return False

    def _done(self, text: str) -> bool:
        self.window.show_message("info", text)
        return True

    def save_window(self, path) -> bool:
        """Save the whole window as PNG or SVG (by suffix); False, with a message, on failure."""
        try:
            save_image(self.window, path)
        except (OSError, ValueError) as exc:
            return self._fail(path, exc)
        return self._done(f"Saved the window as {path}")

    def save_plot(self, name: str, path) -> bool:
        """Save the plot called ``name`` (a key of :func:`plot_items`) as PNG or SVG."""
        plots = plot_items(self.window)
        if name not in plots:
            return self._fail(path, ValueError(f"no plot '{name}' is shown; "
                                               f"shown: {', '.join(plots)}"))
        try:
            save_image(plots[name], path)
        except (OSError, ValueError) as exc:
            return self._fail(path, exc)
        return self._done(f"Saved the plot '{name}' as {path}")

    def save_csv(self, path) -> bool:
        """Save the metrics history as CSV."""
        try:
            c = self.window.controller
            rows = save_history_csv(c.comparison or c.history, path)
        except (OSError, ValueError) as exc:
            return self._fail(path, exc)
        return self._done(f"Saved {rows:,} rows of metrics to {path}")

    @Slot(bool)
    def record_whole_window(self, on: bool) -> None:
        """The next recording takes the whole window (``on``) or the plots area."""
        self.recorder.widget = self.window if on else None

    def start_recording(self) -> None:
        """Record the plots area (or the whole window) from now on."""
        if self.recorder.writing:
            self.window.show_message("warn", "A recording is still being written: wait for it.")
            return
        self.recorder.start()
        self._set_action("record", text="Stop recording and save...")
        self._set_action("record_window", enabled=False)
        self._set_action("save_recording", enabled=False)
        # No banner: it would be in the recording. The status bar says it records.
        if self.window.banner.property("level") == "info":
            self.window.hide_message()

    def save_recording(self, path) -> bool:
        """Stop recording and write it to ``path`` in the background, with a progress dialog."""
        try:
            self.recorder.save(path)
        except (ValueError, RuntimeError) as exc:
            self.window.show_message("error", f"Could not save the recording to {path}: {exc}")
            return False
        dialog = QProgressDialog(f"Writing {Path(path).name}...", "Cancel", 0,
                                 self.recorder.frame_count, self.window)
        dialog.setWindowTitle("Saving the recording")
        dialog.setMinimumDuration(300)  # a short write shows no dialog at all
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(self.recorder.cancel)
        self.progress_dialog = dialog
        return True

    # --- recorder signals ---------------------------------------------------------

    @Slot(int)
    def _on_frames(self, count: int) -> None:
        r = self.recorder
        self.rec_label.setText(f"\u25cf REC {r.seconds:.0f} s of {r.max_seconds:.0f}, "
                               f"{count} frames (Ctrl+R stops)")
        self.rec_label.setVisible(r.recording)

    @Slot(str)
    def _on_stopped(self, reason: str) -> None:
        self.rec_label.setVisible(False)
        self._set_action("record", text="Start &recording")
        self._set_action("record_window", enabled=True)
        self._set_action("save_recording", enabled=self.recorder.frame_count > 0)
        if reason:
            self.window.show_message(
                "warn", f"Recording stopped: {reason}. File > Save last recording... writes it.")

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.setMaximum(total)
            self.progress_dialog.setValue(done)

    @Slot(str, str)
    def _on_saved(self, path: str, error: str) -> None:
        if self.progress_dialog is not None:
            self.progress_dialog.close()
            self.progress_dialog.deleteLater()
            self.progress_dialog = None
        self._set_action("save_recording", enabled=True)
        r = self.recorder
        if error == "cancelled":
            self.window.show_message("info", "Saving the recording was cancelled; "
                                             "File > Save last recording... tries again.")
        elif error:
            self.window.show_message(
                "error", f"Could not save the recording to {path}: {error}. "
                         "The frames are kept: File > Save last recording... tries again.")
        else:
            self.window.show_message(
                "info", f"Saved the recording as {path} ({r.frame_count} frames, "
                        f"{r.seconds:.1f} s)")
