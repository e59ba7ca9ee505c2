"""Export: the window or one plot as PNG or SVG, the metrics history as CSV, a recording
as GIF or MP4, and the File menu entries for them (:class:`Exporter`).

Qt, pyqtgraph, imageio and numpy only: this module never imports torch (the
views and the app see numpy snapshots, never tensors). The save functions
raise ``OSError`` or ``ValueError`` with a readable message; :class:`Exporter`
turns those into a banner message, never a crash.
"""

from __future__ import annotations

import csv
import importlib.util
import time
import zlib
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QPoint, QRectF, Qt, QThread, \
    Signal, Slot
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QApplication, QFileDialog, QGraphicsItem, QGraphicsView, QLabel, QMenu, QProgressDialog,
)

#: Column order of the metrics CSV: DESIGN.md section 3, as ``ganviz.core.headless``
#: writes it (not imported from there: it imports torch). Then ``kl``.
METRIC_NAMES = (
    "step", "loss_d", "loss_g", "js", "w1", "grad_norm_g", "grad_norm_d", "d_real", "d_fake",
    "modes_captured", "modes_total", "high_quality",
)
CSV_NAMES = METRIC_NAMES + ("kl",)

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
FFMPEG_HINT = "MP4 needs ffmpeg: pip install imageio-ffmpeg (or save the recording as GIF)"


# --- images ------------------------------------------------------------------


def _write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` (Python's open, so a failure says why)."""
    with open(path, "wb") as handle:
        handle.write(data)


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


def _texts(values: np.ndarray) -> list:
    """Shortest round-trip text of each float; NaN (not measured) as an empty field."""
    values = np.asarray(values)
    text = values.astype(str)  # numpy's shortest repr, fast for long columns
    text[np.isnan(values)] = ""  # inf stays: a diverged loss is a value
    return text.tolist()


def history_rows(history) -> list:
    """Rows of CSV_NAMES from a :class:`ganviz.views.history.History`, one per recorded step.

    Per-iteration columns come from ``history.steps``; measured ones (js, w1,
    modes, kl) from ``history.measured``, filled at the steps they were
    measured and empty elsewhere, as in the headless CSV. Past History's
    point limit the per-iteration values are block means (the row's step is
    the last of its block), so a long run has fewer rows than iterations.
    """
    s, m = history.steps, history.measured
    s_steps = s.x.astype(np.int64)
    m_steps = m.x.astype(np.int64)
    steps = np.union1d(s_steps, m_steps)
    columns = {"step": [str(int(v)) for v in steps]}
    for series, own in ((s, s_steps), (m, m_steps)):
        where = np.searchsorted(steps, own)  # the rows this series fills
        for name in series.names:
            if name not in CSV_NAMES:
                continue
            full = np.full(len(steps), np.nan)
            full[where] = series.y(name)
            columns[name] = _texts(full.astype(np.float32))
    empty = [""] * len(steps)
    return [list(row) for row in zip(*(columns.get(n, empty) for n in CSV_NAMES))]


def save_history_csv(history, path) -> int:
    """Write the metrics history as CSV (header CSV_NAMES); return the number of rows."""
    rows = history_rows(history)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_NAMES)
        writer.writerows(rows)
    return len(rows)


# --- recording ---------------------------------------------------------------


def ffmpeg_missing() -> str | None:
    """None when imageio can write MP4; else what to install."""
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        return FFMPEG_HINT
    try:
        import imageio_ffmpeg

        imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:  # installed without a usable binary
        return FFMPEG_HINT
    return None


def frame_size(width: int, height: int, max_width: int = 960) -> tuple:
    """(w, h) at most ``max_width`` wide, aspect kept, both even (MP4's yuv420p needs it)."""
    scale = min(1.0, max_width / max(width, 1))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(round(height * scale)) // 2 * 2)
    return w, h


def frame_rate(times, limit: float = 50.0) -> float:
    """Frames per second from capture times: the median gap, so a pause does not slow it."""
    gaps = np.diff(np.asarray(times, dtype=np.float64))
    gaps = gaps[gaps > 0]
    if not len(gaps):
        return 10.0
    return float(np.clip(1.0 / np.median(gaps), 1.0, limit))


def image_array(image: QImage) -> np.ndarray:
    """An (h, w, 3) uint8 RGB copy of ``image``."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, line = image.height(), image.width(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), np.uint8, count=h * line).reshape(h, line)
    return raw[:, : w * 3].reshape(h, w, 3).copy()  # rows are padded to 4 bytes


def fit_image(image: QImage, size: tuple, background: QColor | None = None) -> QImage:
    """``image`` scaled into ``size`` with its aspect kept, centred on ``background``."""
    w, h = size
    scaled = image.scaled(w, h, Qt.AspectRatioMode.KeepAspectRatio,
                          Qt.TransformationMode.SmoothTransformation)
    if scaled.width() == w and scaled.height() == h:
        return scaled
    # The window was resized while recording: every frame must keep the first size.
    canvas = QImage(w, h, QImage.Format.Format_RGB888)
    canvas.fill(background or QColor("#121216"))
    painter = QPainter(canvas)
    painter.drawImage((w - scaled.width()) // 2, (h - scaled.height()) // 2, scaled)
    painter.end()
    return canvas


def _encode_frame(image: QImage, size: tuple) -> bytes:
    """Scale, convert and compress one grabbed frame (runs off the GUI thread)."""
    # zlib releases the GIL; plots compress about tenfold, so a minute fits in memory.
    return zlib.compress(image_array(fit_image(image, size)).tobytes(), 1)


def _paletted(frames):
    """Each frame as a 256-colour palette image, for GIF."""
    from PIL import Image

    # Fast octree: 4.5 ms a frame at 960 px against 90 ms for Pillow's default median cut
    # (which imageio's bits=8 and Pillow's RGB->P conversion use), and a smaller file.
    octree = getattr(Image, "Quantize", Image).FASTOCTREE  # the enum is Pillow >= 9.1
    for frame in frames:
        yield Image.fromarray(frame).quantize(256, method=octree)


def _counted(frames, count, progress, cancelled, written: list):
    """``frames``, polling ``cancelled()`` before and reporting ``progress`` after each."""
    for frame in frames:
        if cancelled is not None and cancelled():
            raise InterruptedError("cancelled")
        yield frame
        written[0] += 1  # runs when the writer asks for the next frame: this one is done
        if progress is not None:
            progress(written[0], count or written[0])


def _write_gif(path: Path, images, duration: int) -> None:
    """Write palette images as a looping GIF with Pillow, the writer of imageio's pillow plugin.

    Why not imageio's own call: it keeps every frame in RGB, or median-cuts each
    one (bits=8), until the file closes; Pillow takes an iterator of frames.
    """
    images = iter(images)
    first = next(images, None)
    if first is None:
        raise ValueError("no frames to write")
    first.save(path, format="GIF", save_all=True, append_images=images, duration=duration,
               loop=0)


def write_frames(path, frames, fps: float, count: int | None = None, progress=None,
                 cancelled=None) -> int:
    """Write (h, w, 3) uint8 ``frames`` as a GIF or MP4 (by suffix); return frames written.

    ``progress(done, total)`` is called after each frame; ``cancelled()`` is
    polled, and a cancelled or failed write removes its partial file.
    """
    import imageio.v2 as iio2

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"cannot record as '{suffix or 'no suffix'}': use .gif or .mp4")
    if suffix == ".mp4" and (missing := ffmpeg_missing()):
        raise RuntimeError(missing)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"the folder {path.parent} does not exist")
    written = [0]
    frames = _counted(frames, count, progress, cancelled, written)
    try:
        if suffix == ".gif":
            duration = max(20, int(round(1000.0 / min(fps, 50.0))))  # ms; GIF counts in 10 ms
            _write_gif(path, _paletted(frames), duration)
        else:
            # veryfast: a third of the default preset's CPU for the same size on plots, so
            # training and drawing keep their cores while it writes (measured).
            writer = iio2.get_writer(path, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                     pixelformat="yuv420p", quality=7, macro_block_size=2,
                                     ffmpeg_log_level="error",
                                     output_params=["-preset", "veryfast", "-threads", "2"])
            try:
                for frame in frames:
                    writer.append_data(frame)
            finally:
                writer.close()
    except BaseException:
        path.unlink(missing_ok=True)  # no half-written file left behind
        raise
    return written[0]


class _WriteThread(QThread):
    """Writes a recording in the background; its signals reach the GUI thread queued."""

    progress = Signal(int, int)
    written = Signal(str, str)  # path, error ("" when the file is complete)

    def __init__(self, path: str, frames, count: int, fps: float, parent=None) -> None:
        super().__init__(parent)
        self.path, self.frames, self.count, self.fps = path, frames, count, fps
        self.cancel = False

    def run(self) -> None:
        try:
            write_frames(self.path, self.frames, self.fps, self.count,
                         progress=self.progress.emit, cancelled=lambda: self.cancel)
        except InterruptedError:
            self.written.emit(self.path, "cancelled")
        except Exception as exc:  # any failure becomes one message; the frames stay
            self.written.emit(self.path, _reason(exc))
        else:
            self.written.emit(self.path, "")


def _reason(exc: BaseException) -> str:
    """A one-line reason for a failed export."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__


class Recorder(QObject):
    """Records a widget each time the window draws a frame, then writes GIF or MP4.

    Frames are grabbed on the GUI thread (about 10-20 ms each, so at most
    ``fps`` a second), then scaled to at most ``max_width`` px (even sizes) and
    zlib-compressed on a helper thread. A recording stops by itself after
    ``max_seconds`` or ``max_bytes`` of compressed frames, and says why. The
    frames stay after a save (to save again in another format, or after a
    failed write) until the next recording starts.

    Parameters
    ----------
    window : MainWindow
        Its ``frame_drawn`` signal paces the recording.
    widget : QWidget or callable, optional
        What to record, or a function returning it (the current view);
        default: the window's central area (views and time series).
    """

    #: Frames held, after each captured frame and when a recording starts.
    frames_changed = Signal(int)
    #: The recording stopped: "" when asked to, else the limit it reached.
    stopped = Signal(str)
    #: (frames written, total) while a file is written.
    progress = Signal(int, int)
    #: (path, error): a write ended; error is "" when the file is complete.
    saved = Signal(str, str)

    MAX_PENDING = 6  # frames waiting for the helper thread; beyond, frames are skipped

    def __init__(self, window, widget=None, *, fps: float = 20.0, max_seconds: float = 60.0,
                 max_width: int = 960, max_bytes: int = 512 << 20, parent=None) -> None:
        super().__init__(parent)
        self.window = window
        self.widget = widget
        self.fps = float(fps)
        self.max_seconds = float(max_seconds)
        self.max_width = int(max_width)
        self.max_bytes = int(max_bytes)
        self.recording = False
        self.size: tuple | None = None
        self.times: list = []
        self._frames: list = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ganviz-record")
        self._writer: _WriteThread | None = None
        app = QApplication.instance()
        if app is not None:  # quitting waits for a file being written, so it is complete
            app.aboutToQuit.connect(self.wait)

    # --- state ---------------------------------------------------------------

    @property
    def frame_count(self) -> int:
        return len(self._frames)

    @property
    def seconds(self) -> float:
        """Wall time the recording spans."""
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0

    @property
    def nbytes(self) -> int:
        """Memory the compressed frames take (pending ones counted uncompressed)."""
        raw = self.size[0] * self.size[1] * 3 if self.size else 0
        return sum(len(f.result()) if f.done() and not f.exception() else raw
                   for f in self._frames)

    @property
    def writing(self) -> bool:
        return self._writer is not None and self._writer.isRunning()

    # --- recording -----------------------------------------------------------

    def target(self):
        """The widget recorded now."""
        if self.widget is None:
            return self.window.centralWidget()
        return self.widget() if callable(self.widget) else self.widget

    def start(self) -> None:
        """Forget the last recording and record from the next frame drawn."""
        if self.recording:
            return
        self._frames, self.times, self.size = [], [], None
        self.recording = True
        self.window.frame_drawn.connect(self.capture)
        self.capture(force=True)  # a paused run draws nothing: start with what is shown
        self.frames_changed.emit(self.frame_count)

    def stop(self, reason: str = "") -> None:
        """Stop recording; the frames stay for :meth:`save`."""
        if not self.recording:
            return
        self.recording = False
        self.window.frame_drawn.disconnect(self.capture)
        self.stopped.emit(reason)

    @Slot()
    def capture(self, force: bool = False) -> bool:
        """Grab one frame now (paced to ``fps``); return whether one was taken."""
        if not self.recording:
            return False
        now = time.monotonic()
        if not force and self.times and now - self.times[-1] < 0.9 / self.fps:
            return False
        pending = sum(not f.done() for f in self._frames[-self.MAX_PENDING - 1:])
        if pending >= self.MAX_PENDING:  # the helper thread lags: skip rather than pile up
            return False
        image = self.target().grab().toImage()
        if self.size is None:
            self.size = frame_size(image.width(), image.height(), self.max_width)
        self._frames.append(self._pool.submit(_encode_frame, image, self.size))
        self.times.append(now)
        self.frames_changed.emit(self.frame_count)
        self._check_limits()
        return True

    def _check_limits(self) -> None:
        if self.seconds >= self.max_seconds or self.frame_count >= self.max_seconds * self.fps:
            self.stop(f"it reached its limit of {self.max_seconds:.0f} s")
        elif self.frame_count % 20 == 0 and self.nbytes >= self.max_bytes:
            self.stop(f"it reached its memory limit of {self.max_bytes >> 20} MB")

    def frames(self):
        """The recorded frames as (h, w, 3) uint8 arrays, decompressed one at a time."""
        futures, (w, h) = list(self._frames), self.size or (0, 0)  # taken now, not when iterated
        return (np.frombuffer(zlib.decompress(f.result()), np.uint8).reshape(h, w, 3)
                for f in futures)

    # --- writing -------------------------------------------------------------

    def save(self, path) -> None:
        """Write the frames to ``path`` (.gif or .mp4) in the background; :attr:`saved` says how.

        Raises ``ValueError`` or ``RuntimeError`` at once when it cannot start
        (nothing recorded, a write under way, a bad suffix, ffmpeg missing).
        """
        suffix = Path(path).suffix.lower()
        if not self._frames:
            raise ValueError("nothing recorded yet: start a recording first")
        if self.writing:
            raise RuntimeError("a recording is being written: wait for it to finish")
        if suffix not in (".gif", ".mp4"):
            raise ValueError(f"cannot record as '{suffix or 'no suffix'}': use .gif or .mp4")
        if suffix == ".mp4" and (missing := ffmpeg_missing()):
            raise RuntimeError(missing)
        if self.recording:
            self.stop()
        fps = frame_rate(self.times, limit=self.fps * 1.5)
        self._writer = _WriteThread(str(path), self.frames(), self.frame_count, fps, self)
        self._writer.progress.connect(self._on_progress)
        self._writer.written.connect(self._on_written)
        self._writer.start()

    def cancel(self) -> None:
        """Stop the write under way (its partial file is removed)."""
        if self._writer is not None:
            self._writer.cancel = True

    @Slot()
    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Block until the write under way ends; True when none is left running."""
        if self._writer is None:
            return True
        return self._writer.wait(timeout_ms)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    @Slot(str, str)
    def _on_written(self, path: str, error: str) -> None:
        self._writer.wait()
        self.saved.emit(path, error)


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
        self.window.show_message("error", f"Could not export to {path}: {_reason(exc)}")
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
            rows = save_history_csv(self.window.controller.history, path)
        except (OSError, ValueError) as exc:
            return self._fail(path, exc)
        return self._done(f"Saved {rows:,} rows of metrics to {path}")

    def start_recording(self) -> None:
        """Record the plots area from now on."""
        if self.recorder.writing:
            self.window.show_message("warn", "A recording is still being written: wait for it.")
            return
        self.recorder.start()
        self._set_action("record", text="Stop recording and save...")
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
