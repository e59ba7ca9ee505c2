"""Your own target in the window: drawing with the mouse, the mixture editor, open, drop, export.

Mouse events go to the view's viewport as Qt delivers them; pyqtgraph's rate
limit on mouse moves is lifted so that no test waits on the clock.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from ganviz.core import mixture, points
from ganviz.core.config import Config
from ganviz.core.session import load_session

RING = Config.from_dict({"data": "ring8", "z_dim": 2, "hidden": 16, "batch_size": 64})
SMALL = Config.from_dict({"data": "gaussian", "z_dim": 1, "hidden": 16, "batch_size": 64})


@pytest.fixture(autouse=True)
def _every_mouse_move():
    old = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", -1)
    yield
    pg.setConfigOption("mouseRateLimit", old)


def _latest(window):
    return window.controller.latest


def _started(qtbot, window, step=5):
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).step >= step,
                    timeout=20_000)


def _px(view, box, x, y) -> QPoint:
    """The viewport pixel of data point (x, y) in view box ``box``."""
    return view.mapFromScene(box.mapViewToScene(QPointF(x, y)))


def _send(view, kind, p: QPoint, button, buttons):
    vp = view.viewport()
    ev = QMouseEvent(kind, QPointF(p), QPointF(vp.mapToGlobal(p)), button, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, ev)


def stroke(view, box, path, button=Qt.MouseButton.LeftButton, steps=20):
    """Press at path[0], move through the points of ``path`` (data units), release at the end."""
    pts = [_px(view, box, *p) for p in path]
    _send(view, QEvent.Type.MouseButtonPress, pts[0], button, button)
    for a, b in zip(pts[:-1], pts[1:]):
        for i in range(1, steps + 1):
            _send(view, QEvent.Type.MouseMove, a + (b - a) * (i / steps),
                  Qt.MouseButton.NoButton, button)
    _send(view, QEvent.Type.MouseButtonRelease, pts[-1], button, Qt.MouseButton.NoButton)


def click(view, box, x, y, button=Qt.MouseButton.LeftButton, double=False):
    p = _px(view, box, x, y)
    _send(view, QEvent.Type.MouseButtonPress, p, button, button)
    _send(view, QEvent.Type.MouseButtonRelease, p, button, Qt.MouseButton.NoButton)
    if double:
        _send(view, QEvent.Type.MouseButtonDblClick, p, button, button)
        _send(view, QEvent.Type.MouseButtonRelease, p, button, Qt.MouseButton.NoButton)


def test_drawing_points_becomes_the_target_kept_across_reset_and_in_a_session(
        qtbot, make_window, tmp_path):
    window = make_window(RING)
    _started(qtbot, window)
    tools, view = window.target_tools, window.view2d
    box = view.plot.vb
    tools.start_tool("draw")
    assert window.controller.paused and tools.bar.isVisible()
    overlay = tools.overlays[2]
    r = overlay.radius()
    stroke(view, box, [(-1.5, -1.0), (1.5, -1.0)])
    pts = overlay.points.copy()
    # Dabs every half radius along 3 units, DENSITY points each, all within the brush of the line.
    assert len(pts) >= overlay.density * int(3 / (0.5 * r)) // 2
    assert np.all(np.abs(pts[:, 1] + 1.0) <= r + 1e-9)
    assert pts[:, 0].min() >= -1.5 - r - 1e-9 and pts[:, 0].max() <= 1.5 + r + 1e-9
    stroke(view, box, [(1.2, 1.5), (1.2, 2.5)])
    n_before = len(overlay.points)
    stroke(view, box, [(1.2, 1.5), (1.2, 2.5)], button=Qt.MouseButton.RightButton)  # erase
    assert len(overlay.points) < n_before
    assert not np.any((np.abs(overlay.points[:, 0] - 1.2) < r * 0.9)
                      & (overlay.points[:, 1] > 1.5 + r) & (overlay.points[:, 1] < 2.5 - r))
    drawn = overlay.points.copy()
    run = _latest(window).run_id
    window.controls.play.click()  # Play: the drawing becomes the target
    data = window.controller.config.data
    assert data.startswith("points:drawn#") and data.endswith(f"@kde:{float(f'{r / 2:.3g}')!r}")
    found = points.resolve_points(data)
    np.testing.assert_array_equal(found.points, drawn)
    assert np.all(found.bandwidth == float(f"{r / 2:.3g}"))  # a dab's own spread, not Scott's
    assert not tools.bar.isVisible() and not window.controller.paused
    qtbot.waitUntil(lambda: _latest(window).run_id > run and _latest(window).step > 3,
                    timeout=20_000)
    assert _latest(window).config["data"] == data
    assert "estimate" in tools.note.text() and f"{len(drawn):,} points" in tools.note.text()
    # Reset trains on the drawing again, not on the preset's target.
    run = _latest(window).run_id
    window.controls.reset.click()
    qtbot.waitUntil(lambda: _latest(window).run_id > run, timeout=20_000)
    assert _latest(window).config["data"] == data
    # A session keeps the drawing bit for bit.
    window.controller.save_session(tmp_path / "drawn.json")
    qtbot.waitUntil(lambda: "Session saved" in window.banner.text(), timeout=10_000)
    session = load_session(tmp_path / "drawn.json")
    assert session.config.data == data
    points._store.clear()  # as in a fresh process: the points come from the file
    for f in points.store_dir().glob("*.npy"):
        f.unlink()
    again = load_session(tmp_path / "drawn.json")
    np.testing.assert_array_equal(points.resolve_points(again.config.data).points, drawn)


def test_drawing_a_1d_curve_becomes_points_from_its_quantiles(qtbot, make_window):
    window = make_window(SMALL)
    _started(qtbot, window)
    tools, view = window.target_tools, window.view1d
    box = view.dview  # the overlay lives in D's view box (y from 0 to about 1)
    tools.start_tool("draw")
    overlay = tools.overlays[1]
    (x0, x1), _ = view.plot.vb.viewRange()
    np.testing.assert_allclose(overlay.edges[[0, -1]], [x0, x1])
    a, b = x0 + 0.2 * (x1 - x0), x0 + 0.4 * (x1 - x0)
    stroke(view, box, [(a, 0.5), (b, 0.5)])  # a flat plateau from a to b
    centres = 0.5 * (overlay.edges[1:] + overlay.edges[:-1])
    on = overlay.heights > 0
    assert on.any() and np.allclose(overlay.heights[on], 0.5, atol=0.02)
    width = overlay.edges[1] - overlay.edges[0]
    assert centres[on].min() >= a - width and centres[on].max() <= b + width
    from PySide6.QtGui import QKeySequence, QShortcut

    space = [s for s in window.findChildren(QShortcut) if s.key() == QKeySequence(Qt.Key.Key_Space)]
    space[0].activated.emit()  # Space plays, and the drawing becomes the target
    assert not window.controller.paused and not tools.bar.isVisible()
    data = window.controller.config.data
    found = points.resolve_points(data)
    pts = found.points
    assert len(pts) == points.HISTOGRAM_POINTS and pts.shape[1] == 1
    assert found.bandwidth[0] == float(f"{width:.3g}")  # one bin wide (3 digits)
    # Evenly spaced quantiles of a uniform plateau: evenly spaced points across it.
    lo, hi = overlay.edges[:-1][on].min(), overlay.edges[1:][on].max()
    np.testing.assert_allclose(pts[:, 0], lo + (hi - lo) * (np.arange(len(pts)) + 0.5) / len(pts),
                               atol=1e-9 * (hi - lo))


def test_an_empty_or_tiny_drawing_is_refused_and_the_run_goes_on(qtbot, make_window):
    window = make_window(RING)
    _started(qtbot, window)
    tools = window.target_tools
    tools.start_tool("draw")
    tools.overlays[2].set_points(np.zeros((3, 2)) + [[0, 0], [1, 0], [0, 1]])
    assert not tools.apply()
    assert "not a target yet" in window.banner.text() and "at least 10" in window.banner.text()
    assert window.controller.config.data == "ring8" and tools.bar.isVisible()


def test_mixture_editor_moves_resizes_weighs_adds_and_removes(qtbot, make_window):
    window = make_window(RING.replace(data="mixture:N(-1,0;0.3)+N(1,1;0.2)"))
    _started(qtbot, window)
    tools, view = window.target_tools, window.view2d
    box = view.plot.vb
    tools.start_tool("edit")
    ed = tools.editors[2]
    np.testing.assert_array_equal(ed.means, [[-1, 0], [1, 1]])
    stroke(view, box, [(-1, 0), (-0.5, -0.5)])  # the first centre moves
    np.testing.assert_allclose(ed.means[0], [-0.5, -0.5], atol=0.03)
    stroke(view, box, [(1 + 2 * 0.2, 1), (1 + 2 * 0.5, 1)])  # its ring handle: std 0.2 -> 0.5
    np.testing.assert_allclose(ed.stds[1], 0.5, atol=0.02)
    p = _px(view, box, 1.0, 1.0)
    vp = view.viewport()
    QApplication.sendEvent(vp, QWheelEvent(QPointF(p), QPointF(vp.mapToGlobal(p)), QPoint(0, 0),
                                           QPoint(0, 240), Qt.MouseButton.NoButton,
                                           Qt.KeyboardModifier.NoModifier,
                                           Qt.ScrollPhase.NoScrollPhase, False))
    assert ed.weights[1] == pytest.approx(0.5 * 1.25 ** 2)  # two notches up from 1/2
    click(view, box, 0.0, 2.0, double=True)  # a third component
    assert len(ed.weights) == 3 and np.allclose(ed.means[2], [0, 2], atol=0.03)
    click(view, box, 0.0, 2.0, button=Qt.MouseButton.RightButton)  # and gone again
    assert len(ed.weights) == 2
    tools.apply_and_train()
    data = window.controller.config.data
    spec = mixture.parse_mixture(data)
    assert data == mixture.mixture_data(ed.weights, ed.means, ed.stds)  # canonical text
    np.testing.assert_allclose(spec.weights, np.array([1, 1.5625]) / 2.5625)
    np.testing.assert_allclose(spec.stds, ed.stds)
    qtbot.waitUntil(lambda: _latest(window).config["data"] == data, timeout=20_000)
    assert _latest(window).metrics["modes_total"] == 2


def test_mixture_editor_starts_from_a_named_mixture_in_1d(qtbot, make_window):
    window = make_window(SMALL.replace(data="bimodal"))
    qtbot.waitUntil(lambda: _latest(window) is not None and _latest(window).mode_centres
                    is not None, timeout=20_000)
    tools = window.target_tools
    tools.start_tool("edit")
    ed = tools.editors[1]
    np.testing.assert_allclose(ed.means[:, 0], [-2, 2])
    np.testing.assert_allclose(ed.stds, [0.4, 0.4])
    centre, size = ed.handles()
    np.testing.assert_allclose(size[:, 0] - centre[:, 0], [0.4, 0.4])
    stroke(window.view1d, window.view1d.dview, [tuple(size[0]), (size[0, 0] + 0.3, size[0, 1])])
    assert ed.stds[0] == pytest.approx(0.7, abs=0.02)
    tools.apply_and_train()
    assert mixture.parse_mixture(window.controller.config.data).stds[0] == ed.stds[0]


@pytest.mark.parametrize("content, words", [
    (b"x,y\n1,2\n3,4\n", "at least 10"),
    (b"a,b\nfoo,bar\n", "not numbers"),
    (b"1,2,3\n" * 20, "3 columns"),
    (b"1\nnan\n" * 10, "NaN or infinite"),
    (b"", "no points"),
])
def test_open_target_refuses_a_bad_file_and_the_run_goes_on(qtbot, make_window, tmp_path,
                                                            content, words):
    window = make_window(RING)
    _started(qtbot, window)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    run = _latest(window).run_id
    assert not window.target_tools.open_target(bad)
    assert window.banner.isVisible() and words in window.banner.text()
    assert "Target not opened" in window.banner.text() and "\n" not in window.banner.text()
    assert window.controller.config == RING
    step = _latest(window).step
    _started(qtbot, window, step + 5)
    assert _latest(window).run_id == run  # the same run, going on
    assert not window.target_tools.open_target(tmp_path / "missing.csv")
    assert "cannot read" in window.banner.text()


def test_open_and_drop_a_points_file_then_export_it(qtbot, make_window, tmp_path):
    window = make_window(RING)
    _started(qtbot, window)
    rng = np.random.default_rng(3)
    a = np.r_[rng.normal(-1, 0.3, (150, 2)), rng.normal(1, 0.3, (150, 2))]
    src = tmp_path / "mine.npy"
    np.save(src, a)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(src))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)  # Qt drops only where a drag entered
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    data = window.controller.config.data
    assert data.startswith(f"points:{src}#")
    np.testing.assert_array_equal(points.resolve_points(data).points, a)
    assert "300 points" in window.target_tools.note.text()
    out = tmp_path / "out.csv"
    assert window.target_tools.export_target(out)
    np.testing.assert_array_equal(points.read_points(out), a)  # bit for bit
    # A mixture is exported as samples, its spec in a comment above them.
    spec = "mixture:3*N(-1,0;0.3)+N(1,1;0.2)"
    window.on_params({"data": spec})
    assert window.target_tools.export_target(out)
    text = out.read_text()
    assert mixture.canonical_mixture(spec) in text.splitlines()[1]
    got = points.read_points(out)
    assert got.shape == (2000, 2)
    assert abs((got[:, 0] < 0).mean() - 0.75) < 0.04


def test_play_right_after_a_new_target_while_paused_trains_the_new_run(qtbot, make_window):
    """The new run starts paused (the controls said so) and Play comes before it begins:
    Play must win (the host pauses a run's inbox when the start arrives, not later)."""
    window = make_window(RING)
    _started(qtbot, window)
    window.controller.pause()
    run = _latest(window).run_id
    window.on_params({"data": "grid25"})
    window.controller.play()
    qtbot.waitUntil(lambda: _latest(window).run_id > run and _latest(window).step > 3,
                    timeout=20_000)


def test_after_a_drawing_is_applied_the_scenario_says_what_the_target_is(qtbot, make_window):
    """The preset's explanation is about its own target: a drawing replaces it with its own."""
    window = make_window(RING, "ring8")
    _started(qtbot, window)
    explanation = window.controls.explanation
    ring_text = window.controls._presets["ring8"].explanation[:40]
    assert ring_text in explanation.text()
    tools, view = window.target_tools, window.view2d
    tools.start_tool("draw")
    stroke(view, view.plot.vb, [(-1.5, -1.0), (1.5, -1.0)])
    n = len(tools.overlays[2].points)
    assert tools.apply()
    text = explanation.text()
    assert f"Your target: {n:,} points in 2-D, drawn in the window" in text
    assert "p_data is an estimate" in text and ring_text not in text
    assert "Modified from ring8" in text
