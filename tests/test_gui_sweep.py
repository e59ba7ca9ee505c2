"""File > Open sweep: the phase window from a small results.csv written here (offscreen).

The folder is written with the sweep's own Results (no run trains): a 3 x 2
grid of lr_d x k, 3 seeds, with known js values, one cell with a diverged
run and one where every run diverged.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.sweep.results import RESULTS_FILE, Results, record
from ganviz.sweep.spec import Sweep, expand, parse_grid

BASE = Config.from_dict({"data": "gaussian", "z_dim": 1, "hidden": 16, "batch_size": 64})


def js_of(lr_d: float, k: int, seed: int) -> float | None:
    """The test's metric: None (diverged) for lr_d 0.1 at k 3, and for seed 2 at lr_d 0.01, k 1."""
    if lr_d == 0.1 and k == 3 or (lr_d == 0.01 and k == 1 and seed == 2):
        return None
    return round(0.1 * k + lr_d * 10 + 0.01 * seed, 6)


def write_sweep(folder) -> Sweep:
    sweep = expand(Sweep(BASE, (parse_grid("lr_d=0.001,0.01,0.1"), parse_grid("k=1,3")),
                         seeds=3, steps=50, every=10, preset="gaussian-1d"))
    results = Results(folder, sweep)
    results.start("ganviz sweep --preset gaussian-1d --grid lr_d=0.001,0.01,0.1 --grid k=1,3 "
                  "--seeds 3 --steps 50 --out x", "test")
    for row in sweep.rows:
        js = js_of(dict(row.point)["lr_d"], dict(row.point)["k"], row.seed)
        result = None if js is None else {"js": js, "w1": 2 * js, "loss_d": 1.0, "step": 50,
                                          "g_mean": [0.5], "g_std": [1.0], "device": "cpu"}
        results.append(record(row, result, 0.5, "" if result else "training diverged"))
    results.close()
    return sweep


@pytest.fixture
def folder(tmp_path):
    out = tmp_path / "sweep"
    write_sweep(out)
    return out


@pytest.fixture
def window(make_window):
    return make_window()


def cell_where(view, lr_d, k):
    return next(c for c in view.cells if dict(c.point) == {"lr_d": lr_d, "k": k})


def scene_pos(view, cell):
    return view.plot.getViewBox().mapViewToScene(view.centre(cell))


def test_open_folder_reads_the_sweep_back_without_changing_it(folder):
    from ganviz.sweep.results import open_folder

    path = folder / RESULTS_FILE
    path.write_bytes(path.read_bytes() + b"0.1,1,9,")  # a row being written now
    before = path.read_bytes()
    sweep, results, preset = open_folder(path)
    assert preset == "gaussian-1d" and sweep.keys == ("lr_d", "k") and len(sweep.rows) == 18
    assert sweep.rows[0].config == BASE.replace(lr_d=0.001, k=1, seed=0)
    assert len(results.done) == 18
    assert path.read_bytes() == before  # the torn line is skipped, not cut


def test_the_phase_window_draws_the_cells_on_log_axes_with_the_metric_menu(window, folder):
    from ganviz.views.phase import colours

    sw = window.open_sweep(folder)
    assert sw is not None
    names = [sw.metric_box.itemText(i) for i in range(sw.metric_box.count())]
    assert names == ["loss_d", "js", "w1"]  # columns with a number, step and d_real left out
    assert sw.metric_box.currentText() == "js"
    view = sw.view
    assert len(view.cells) == 6
    mx, my = view.maps
    assert mx.log and not my.log  # lr_d on log10, k linear
    assert [t for t, _ in mx.ticks()] == pytest.approx([-3, -2, -1])
    assert [s for _, s in mx.ticks()] == ["0.001", "0.01", "0.1"]
    rgb, lo, hi = colours([c.mean for c in view.cells])
    assert (lo, hi) == (pytest.approx(0.1 + 0.01 + 0.01), pytest.approx(0.1 + 1.0 + 0.01))
    img = view.image.image
    for c, colour in zip(view.cells, rgb):
        # where the ImageItem draws the cell's centre, in its own pixels
        p = view.image.mapFromScene(scene_pos(view, c))
        assert tuple(img[int(p.y()), int(p.x())][:3]) == colour, dict(c.point)
    gone = cell_where(view, 0.1, 3)
    assert math.isnan(gone.mean) and gone.diverged == 3
    assert colours([gone.mean])[0][0] == (190, 190, 190)
    sw.metric_box.setCurrentText("w1")  # another metric: the same cells, twice the values
    assert cell_where(sw.view, 0.001, 1).mean == pytest.approx(2 * (0.1 + 0.01 + 0.01))


def test_hover_says_the_cells_numbers_over_seeds(window, folder, qtbot):
    sw = window.open_sweep(folder)
    view = sw.view
    cell = cell_where(view, 0.01, 1)  # seeds 0, 1 finished (0.2, 0.21), seed 2 diverged
    view.scene().sigMouseMoved.emit(scene_pos(view, cell))
    text = sw.info.text()
    assert "lr_d = 0.01, k = 1" in text
    assert "js: mean 0.205 \u00b1 0.005 (s.e.) over 2 runs; 1 of 3 diverged" in text
    assert "seed 0: 0.2   seed 1: 0.21   seed 2: diverged" in text
    assert cell.se == pytest.approx(np.std([0.2, 0.21], ddof=1) / math.sqrt(2))


def test_a_click_on_a_cell_opens_that_config_and_seed_as_a_live_run(window, folder, qtbot):
    from PySide6.QtCore import QPoint, Qt

    sw = window.open_sweep(folder)
    view = sw.view
    cell = cell_where(view, 0.1, 1)
    at = view.mapFromScene(scene_pos(view, cell))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(int(at.x()), int(at.y())))
    assert sw.menu is not None
    actions = sw.menu.actions()
    assert [a.text() for a in actions] == [
        f"Open seed {s} as a live run (js {js_of(0.1, 1, s):.4g})" for s in range(3)
    ] + ["Open its seeds as a comparison (3 seeds)"]
    actions[1].trigger()
    want = BASE.replace(lr_d=0.1, k=1, seed=1)
    assert window.controller.config == want
    assert window.controller.preset == "gaussian-1d"
    assert "seed 1" in window.banner.text() and "lr_d=0.1, k=1" in window.banner.text()
    # the run restarted with it: a snapshot of the new config arrives
    qtbot.waitUntil(lambda: window.controller.latest is not None
                    and window.controller.latest.run_id == window.controller.supervisor.run_id,
                    timeout=30_000)


def test_a_cells_seeds_open_as_a_comparison(window, folder, qtbot):
    sw = window.open_sweep(folder)
    cell = cell_where(sw.view, 0.01, 3)
    sw.cell_menu(cell).actions()[-1].trigger()
    c = window.controller
    assert c.comparison is not None and c.comparison.key == "seed"
    assert c.comparison.values == (0, 1, 2)
    assert c.supervisor.member_configs() == [BASE.replace(lr_d=0.01, k=3, seed=s) for s in range(3)]
    assert "seeds 0-2 side by side" in window.banner.text()
    qtbot.waitUntil(lambda: all(s is not None for s in c.comparison.latest), timeout=30_000)


@pytest.mark.parametrize("spoil, words", [
    (lambda f: (f / "sweep.json").unlink(), "has no sweep.json"),
    (lambda f: (f / "sweep.json").write_text("{not json"), "sweep.json is unreadable"),
    (lambda f: (f / RESULTS_FILE).write_text((f / RESULTS_FILE).read_text() + "1,2\n"),
     "line 20 is unreadable"),
    (lambda f: (f / RESULTS_FILE).write_text((f / RESULTS_FILE).read_text().splitlines()[0]
                                             + "\n"), "holds no finished row"),
])
def test_a_bad_sweep_folder_is_one_message_and_nothing_changes(window, folder, spoil, words):
    spoil(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert window.open_sweep(folder) is None
    text = window.banner.text()
    assert text.startswith("Could not open the sweep: ") and words in text, text
    assert "\n" not in text and window.banner.property("level") == "error"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
    assert not getattr(window, "_sweep_windows", [])


def test_a_file_that_is_not_a_sweep_is_named(window, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert window.open_sweep(other) is None
    assert "notes.txt is not a sweep; accepted: a sweep's folder" in window.banner.text()


def test_random_axes_are_points_that_hover_and_click_too(tmp_path, qtbot, pg_style):
    from ganviz.app.sweep import SweepWindow
    from ganviz.sweep.spec import parse_random

    sweep = expand(Sweep(BASE, (parse_random("lr_d=loguniform:1e-4:1e-1"),), seeds=2,
                         samples=5, steps=50, every=10))
    results = Results(tmp_path / "r", sweep)
    results.start("ganviz sweep --random lr_d=loguniform:1e-4:1e-1 --samples 5", "test")
    for i, row in enumerate(sweep.rows):
        results.append(record(row, {"js": 0.01 * i}, 0.5))
    results.close()
    opened = []
    sw = SweepWindow(opener=lambda *a: opened.append(a))
    qtbot.addWidget(sw)
    sw.open(tmp_path / "r")
    sw.show()
    view = sw.view
    assert not view.image.isVisible() and len(view.points.data) == 5
    assert view.maps[0].log  # loguniform: a log axis, decades as ticks
    assert [s for _, s in view.maps[0].ticks()] == ["0.0001", "0.001", "0.01", "0.1"]
    cell = view.cells[2]
    view.scene().sigMouseMoved.emit(scene_pos(view, cell))
    lr = dict(cell.point)["lr_d"]
    assert sw.info.text().startswith(f"lr_d = {lr!r}\njs: mean 0.045")
    sw.cell_menu(cell).actions()[1].trigger()
    config, preset, note = opened[0]
    assert config == BASE.replace(lr_d=lr, seed=1) and preset == ""
    assert f"lr_d={lr!r}, seed 1" in note
