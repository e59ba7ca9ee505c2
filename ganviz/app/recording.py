"""Recording a run: frames of a widget grabbed as the window draws, written as GIF or MP4.

Frames are compressed in memory on a helper thread (about 280 kB each), capped
in length and bytes; a file is written in a background thread (GIF through
Pillow, MP4 through imageio and its bundled ffmpeg), with progress signals.
Qt, imageio and numpy only: no torch.
"""

from __future__ import annotations

import importlib.util
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QApplication

from ganviz.core.files import atomic_path

FFMPEG_HINT = "MP4 needs ffmpeg: pip install imageio-ffmpeg (or save the recording as GIF)"


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
    written = [0]
    frames = _counted(frames, count, progress, cancelled, written)
    # A cancelled or failed write leaves no partial file (and the old one, if any).
    with atomic_path(path, "recording") as tmp:
        if suffix == ".gif":
            duration = max(20, int(round(1000.0 / min(fps, 50.0))))  # ms; GIF counts in 10 ms
            _write_gif(tmp, _paletted(frames), duration)
        else:
            # veryfast: a third of the default preset's CPU for the same size on plots, so
            # training and drawing keep their cores while it writes (measured).
            writer = iio2.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                     pixelformat="yuv420p", quality=7, macro_block_size=2,
                                     ffmpeg_log_level="error",
                                     output_params=["-preset", "veryfast", "-threads", "2"])
            try:
                for frame in frames:
                    writer.append_data(frame)
            finally:
                writer.close()
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
            self.written.emit(self.path, describe_error(exc))
        else:
            self.written.emit(self.path, "")


def describe_error(exc: BaseException) -> str:
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
