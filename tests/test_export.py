"""Export: window and plot images (PNG decodes, SVG parses), the metrics CSV (the config's metric names),
recordings (GIF and MP4 decode), the File menu entries, and errors as messages, not crashes."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET

import imageio.v3 as iio
import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QKeySequence, QPainter
from PySide6.QtSvg import QSvgRenderer

from ganviz.app import export, recording
from ganviz.core.config import Config
from ganviz.core.history import History

#: bimodal: a mixture, so the modes plot is shown too.
SMALL = Config.from_dict({"data": "bimodal", "z_dim": 1, "hidden": 16, "batch_size": 64})
DESIGN_METRICS = ["step", "loss_d", "loss_g", "js", "w1", "grad_norm_g", "grad_norm_d",
                  "d_real", "d_fake", "modes_captured", "modes_total", "high_quality"]
BAD_DIR = "/nonexistent-ganviz-dir"


@pytest.fixture(scope="module")
def trained(qapp):
    """One window trained for a while, shared by the tests of this module (keeps them fast)."""
    from PySide6.QtWidgets import QApplication

    from ganviz.app.main_window import MainWindow
    from ganviz.views import style

    style.configure()
    window = MainWindow(SMALL, "bimodal", mode="thread")
    window.show()
    window.start()  # the window installs its Exporter in the File menu
    deadline = 200  # x 50 ms
    h = window.controller.history
    while (h.steps.n < 100 or h.measured.n < 3 or window._frames < 5) and deadline:
        QApplication.processEvents()
        window.controller.thread().msleep(50)
        deadline -= 1
    assert h.measured.n >= 3, "the run did not get going"
    yield window
    window.exporter.recorder.wait()
    window.close()


@pytest.fixture
def win(trained, qtbot):
    """The shared window, its banner cleared and no recording left on."""
    trained.hide_message()
    yield trained
    rec = trained.exporter.recorder
    rec.stop()
    rec.wait()


def _banner(window):
    return window.banner.property("level"), window.banner.text()


def _svg_root(path):
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def _rasterise_svg(path) -> np.ndarray:
    renderer = QSvgRenderer(str(path))
    assert renderer.isValid()
    image = QImage(renderer.defaultSize(), QImage.Format.Format_RGB888)
    image.fill(QColor("white"))
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return recording.image_array(image)


# --- pure helpers ---------------------------------------------------------------


def test_frame_size_is_even_and_bounded():
    assert recording.frame_size(1202, 959) == (960, 766)
    assert recording.frame_size(641, 333, max_width=2000) == (640, 332)
    w, h = recording.frame_size(3, 3)
    assert w % 2 == 0 and h % 2 == 0 and w >= 2 and h >= 2


def test_frame_rate_uses_the_median_gap():
    times = [0.0, 0.05, 0.10, 0.15, 5.0, 5.05]  # a 5 s pause does not slow the video
    assert recording.frame_rate(times) == pytest.approx(20.0)
    assert recording.frame_rate([1.0]) == 10.0


def test_write_frames_gif_progress_and_cancel(tmp_path):
    frames = [np.full((32, 48, 3), 40 * i, np.uint8) for i in range(5)]
    seen = []
    path = tmp_path / "a.gif"
    n = recording.write_frames(path, iter(frames), 10.0, 5, progress=lambda d, t: seen.append((d, t)))
    assert n == 5 and seen == [(i, 5) for i in range(1, 6)]
    back = iio.imread(path, index=None)
    assert back.shape[:3] == (5, 32, 48)
    assert [int(round(f[..., :3].mean())) for f in back] == [0, 40, 80, 120, 160]
    assert iio.immeta(path)["duration"] == 100 and iio.immeta(path)["loop"] == 0
    stop = tmp_path / "b.gif"
    with pytest.raises(InterruptedError):
        recording.write_frames(stop, iter(frames), 10.0, 5, cancelled=lambda: len(seen) >= 7,
                            progress=lambda d, t: seen.append(d))
    assert not stop.exists()  # no half-written file
    with pytest.raises(ValueError, match="use .gif or .mp4"):
        recording.write_frames(tmp_path / "c.avi", iter(frames), 10.0)


# --- images -------------------------------------------------------------------


def test_menu_entries_and_shortcuts(win):
    ex = win.exporter
    texts = [a.text() for a in win.file_menu.actions()]
    for text in ("Export window as PNG/SVG...", "Export metrics history as &CSV...",
                 "Start &recording", "Export &plot"):
        assert text in texts, texts
    assert texts.index("Export window as PNG/SVG...") < texts.index("&Quit")
    assert ex.actions["record"].shortcut() == QKeySequence("Ctrl+R")
    assert ex.actions["window"].shortcut() == QKeySequence("Ctrl+E")
    assert not ex.actions["save_recording"].isEnabled()  # nothing recorded yet
    ex._fill_plot_menu()
    names = [a.text() for a in ex.plot_menu.actions()]
    assert names[:2] == ["Densities and D(x)...", "Samples: z -> x strip..."]
    assert "JS divergence..." in names and "Modes captured..." in names


def test_window_png_and_svg(win, tmp_path):
    png, svg = tmp_path / "window.png", tmp_path / "window.svg"
    assert win.exporter.save_window(png)
    image = iio.imread(png)
    assert image.shape[:2] == (win.height(), win.width())
    assert image[..., :3].std() > 10  # plots and controls, not a blank image
    assert _banner(win) == ("info", f"Saved the window as {png}")
    assert win.exporter.save_window(svg)
    root = _svg_root(svg)
    assert root.get("viewBox") == f"0 0 {win.width()} {win.height()}"
    assert any(el.tag.endswith("text") for el in root.iter())  # labels stay text
    assert _rasterise_svg(svg).std() > 10


def test_every_plot_as_png_and_svg(win, tmp_path):
    plots = export.plot_items(win)
    assert len(plots) >= 6
    for i, (name, plot) in enumerate(plots.items()):
        rect = plot.sceneBoundingRect()
        png = tmp_path / f"plot{i}.png"
        assert win.exporter.save_plot(name, png), _banner(win)
        image = iio.imread(png)
        assert abs(image.shape[1] - 2 * rect.width()) <= 2  # at twice the size on screen
        assert abs(image.shape[0] - 2 * rect.height()) <= 4
        svg = tmp_path / f"plot{i}.svg"
        assert win.exporter.save_plot(name, svg), _banner(win)
        root = _svg_root(svg)
        assert float(root.get("viewBox").split()[2]) == pytest.approx(rect.width(), abs=1)


def test_plot_svg_draws_symbols_as_vectors(qtbot, pg_style, tmp_path):
    """Scatter symbols as paths (not one embedded pixmap each); cached axes as text."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QGraphicsItem

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    plot = widget.addPlot()
    scatter = pg.ScatterPlotItem(x=np.arange(50), y=np.arange(50) % 7, size=8)
    plot.addItem(scatter)
    pg_style.cache(plot.getAxis("left"))
    qtbot.wait(50)
    path = tmp_path / "scatter.svg"
    export.save_plot_svg(plot, path)
    tags = [el.tag.rsplit("}", 1)[-1] for el in _svg_root(path).iter()]
    assert "image" not in tags
    assert tags.count("path") >= 50 and "text" in tags
    cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert plot.getAxis("left").cacheMode() == cache and scatter._exportOpts is False  # restored


def test_density_plot_svg_keeps_the_d_curve(win, tmp_path):
    """D(x) lives in a ViewBox laid over the plot; pyqtgraph's SVGExporter dropped it."""
    from ganviz.views import style

    path = tmp_path / "density.svg"
    assert win.exporter.save_plot("Densities and D(x)", path)
    pixels = _rasterise_svg(path).astype(int)
    disc = QColor(style.DISC)
    near = np.abs(pixels - [disc.red(), disc.green(), disc.blue()]).sum(axis=2) < 40
    # The curve spans the x axis; D's legend swatch and axis label alone cover a few columns.
    assert near.any(axis=0).mean() > 0.5, "the D(x) curve is missing from the SVG"


# --- CSV ------------------------------------------------------------------------


def test_csv_has_design_metric_names_and_rows(win, tmp_path):
    from ganviz.core.config import METRIC_NAMES

    path = tmp_path / "metrics.csv"
    assert win.exporter.save_csv(path), _banner(win)
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames[:12] == DESIGN_METRICS == list(METRIC_NAMES)
    assert reader.fieldnames == DESIGN_METRICS + ["kl", "value", "value_opt"]  # as --csv
    assert len(rows) >= 100
    steps = [int(r["step"]) for r in rows]
    assert all(b > a for a, b in zip(steps, steps[1:]))
    for row in rows:
        for name in reader.fieldnames[1:]:
            assert row[name] == "" or not math.isnan(float(row[name])), (name, row[name])
    assert sum(r["loss_d"] != "" for r in rows) >= 0.9 * len(rows)
    js = [float(r["js"]) for r in rows if r["js"] != ""]
    assert 3 <= len(js) < len(rows)  # measured at some steps only
    assert all(0.0 <= v <= math.log(2) + 1e-3 for v in js)
    assert all(float(r["modes_total"]) == 2 for r in rows if r["modes_total"] != "")


def test_csv_action_goes_through_the_dialog_method(win, tmp_path, monkeypatch):
    path = tmp_path / "from-menu.csv"
    asked = []
    monkeypatch.setattr(win.exporter, "ask_path",
                        lambda title, name, filters: asked.append(name) or str(path))
    win.exporter.actions["csv"].trigger()
    assert path.exists() and path.read_text().startswith("step,loss_d,loss_g,js,w1,")
    assert asked and asked[0].startswith("bimodal-metrics-step") and asked[0].endswith(".csv")


# --- recording -------------------------------------------------------------------


def _frames(qtbot, window, n):
    """Wait until the recording holds ``n`` frames. The window draws a frame per snapshot of
    the shared run; ``frame_drawn`` is emitted here too, so that these tests of recording
    do not hang on that run's pace. A timeout says what the run and the recorder were at."""
    rec = window.exporter.recorder

    def enough() -> bool:
        window.frame_drawn.emit()
        return rec.frame_count >= n

    try:
        qtbot.waitUntil(enough, timeout=15_000)
    except Exception:
        sup = window.controller.supervisor
        pending = sum(not f.done() for f in rec._frames)
        pytest.fail(f"{rec.frame_count} of {n} frames; recording {rec.recording}, {pending} "
                    f"being encoded; run {sup.status}, paused {sup.paused}, step "
                    f"{getattr(window.controller.latest, 'step', None)}; "
                    f"banner {window.banner.text()!r}")


def _record(qtbot, window, frames=4):
    rec = window.exporter.recorder
    window.exporter.start_recording()
    assert rec.recording and window.exporter.rec_label.isVisible()
    assert "REC" in window.exporter.rec_label.text()
    _frames(qtbot, window, frames)
    return rec


def _save(qtbot, window, path):
    rec = window.exporter.recorder
    with qtbot.waitSignal(rec.saved, timeout=30_000) as blocker:
        assert window.exporter.save_recording(path), _banner(window)
    return blocker.args


def test_gif_from_a_recording(win, qtbot, tmp_path):
    rec = _record(qtbot, win)
    path = tmp_path / "run.gif"
    saved_path, error = _save(qtbot, win, path)
    assert (saved_path, error) == (str(path), "")
    assert not rec.recording and win.exporter.actions["save_recording"].isEnabled()
    frames = iio.imread(path, index=None)
    w, h = rec.size
    assert w <= 960 and w % 2 == 0 and h % 2 == 0
    # Pillow merges identical consecutive frames (adding their durations): the shared run
    # may not move between two grabs.
    assert 1 <= frames.shape[0] <= rec.frame_count and rec.frame_count >= 4
    assert frames.shape[1:3] == (h, w)
    assert frames[0][..., :3].std() > 10
    assert iio.immeta(path).get("loop") == 0  # loops forever
    assert _banner(win)[0] == "info" and "Saved the recording" in _banner(win)[1]


def test_mp4_from_a_recording(win, qtbot, tmp_path):
    if recording.ffmpeg_missing():
        pytest.skip("imageio-ffmpeg is not installed")
    import imageio.v2 as iio2

    rec = _record(qtbot, win)
    path = tmp_path / "run.mp4"
    assert _save(qtbot, win, path) == [str(path), ""]
    reader = iio2.get_reader(path, format="FFMPEG")
    try:
        frames = [frame for frame in reader]
    finally:
        reader.close()
    w, h = rec.size
    assert len(frames) == rec.frame_count
    assert frames[0].shape == (h, w, 3)
    assert frames[-1].std() > 10


def test_record_action_starts_then_stops_and_saves(win, qtbot, tmp_path, monkeypatch):
    path = tmp_path / "menu.gif"
    monkeypatch.setattr(win.exporter, "ask_path", lambda title, name, filters: str(path))
    act = win.exporter.actions["record"]
    act.trigger()
    rec = win.exporter.recorder
    assert rec.recording and act.text() == "Stop recording and save..."
    _frames(qtbot, win, 3)
    with qtbot.waitSignal(rec.saved, timeout=30_000):
        act.trigger()
    assert not rec.recording and act.text() == "Start &recording"
    # Pillow merges identical consecutive frames (the run may not have moved between two
    # grabs), so the file may hold fewer; test_write_frames_gif_progress_and_cancel counts
    # distinct ones.
    assert rec.frame_count >= 3 and 1 <= len(iio.imread(path, index=None)) <= rec.frame_count


def test_ctrl_r_records_and_plain_r_stays_reset(win, qtbot):
    from PySide6.QtCore import Qt

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=2_000)
    run = win.controller.latest.run_id
    qtbot.keyClick(win, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert win.exporter.recorder.recording
    qtbot.wait(100)
    assert win.controller.latest.run_id == run  # Ctrl+R is not R (reset)
    win.exporter.recorder.stop()


def test_recording_stops_at_its_limit_and_says_so(win, qtbot):
    rec = win.exporter.recorder
    limit = rec.max_seconds
    rec.max_seconds = 0.2
    try:
        with qtbot.waitSignal(rec.stopped, timeout=15_000) as blocker:
            win.exporter.start_recording()
            # frames until the limit stops it (the shared run's pace aside, as in _frames)
            qtbot.waitUntil(lambda: (win.frame_drawn.emit(), not rec.recording)[1],
                            timeout=15_000)
    finally:
        rec.max_seconds = limit
    assert "limit" in blocker.args[0]
    assert _banner(win)[0] == "warn" and "Recording stopped" in _banner(win)[1]
    assert rec.frame_count >= 1 and win.exporter.actions["save_recording"].isEnabled()


# --- errors ---------------------------------------------------------------------


def test_unwritable_paths_give_a_message_not_an_exception(win):
    for save, suffix in ((win.exporter.save_window, ".png"), (win.exporter.save_window, ".svg"),
                         (win.exporter.save_csv, ".csv")):
        path = f"{BAD_DIR}/out{suffix}"
        assert save(path) is False
        level, text = _banner(win)
        assert level == "error" and path in text and "does not exist" in text, text
    assert win.exporter.save_plot("JS divergence", f"{BAD_DIR}/js.png") is False
    assert win.exporter.save_window("/tmp/window.bmp") is False
    assert "use .png or .svg" in _banner(win)[1]


def test_a_failed_recording_write_keeps_the_frames(win, qtbot, tmp_path):
    rec = _record(qtbot, win, frames=2)
    count = rec.frame_count
    saved_path, error = _save(qtbot, win, f"{BAD_DIR}/run.gif")
    assert error and "does not exist" in error
    level, text = _banner(win)
    assert level == "error" and "frames are kept" in text
    assert rec.frame_count == count  # nothing lost: save again elsewhere
    path = tmp_path / "again.mp4" if not recording.ffmpeg_missing() else tmp_path / "again.gif"
    assert _save(qtbot, win, path) == [str(path), ""]
    assert len(iio.imread(path, index=None, **({"plugin": "FFMPEG"} if path.suffix == ".mp4"
                                                 else {}))) == count


def test_mp4_without_ffmpeg_says_what_to_install(win, qtbot, monkeypatch):
    monkeypatch.setattr(recording, "ffmpeg_missing", lambda: recording.FFMPEG_HINT)
    rec = _record(qtbot, win, frames=1)
    assert win.exporter.save_recording("/tmp/never.mp4") is False
    level, text = _banner(win)
    assert level == "error" and "pip install imageio-ffmpeg" in text
    assert rec.frame_count >= 1 and not rec.writing


def test_recording_the_whole_window_takes_the_controls_too(win, qtbot, tmp_path):
    whole = win.exporter.actions["record_window"]
    whole.trigger()
    try:
        assert whole.isChecked() and win.exporter.recorder.target() is win
        rec = _record(qtbot, win, frames=2)
        assert not whole.isEnabled()  # the target cannot change mid-recording
        path = tmp_path / "window.gif"
        assert list(_save(qtbot, win, path)) == [str(path), ""]
        frame = iio.imread(path, index=0)
        w, h = rec.size
        # The window's aspect, not the plots area's: wider than tall by the window's ratio.
        assert abs(w / h - win.width() / win.height()) < 0.05
        assert whole.isEnabled()
    finally:
        whole.trigger()
    assert win.exporter.recorder.target() is win.centralWidget()
    assert frame.shape[:2] == (h, w)
