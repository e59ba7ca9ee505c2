"""Loaded targets, data=points:PATH: reading files, the kernel estimate, bad input, keeping them."""

import math
import os

import numpy as np
import pytest
import torch

from ganviz.cli import main
from ganviz.core import metrics, points
from ganviz.core.config import Config, ConfigError
from ganviz.core.data import make_target
from ganviz.core.presets import preset_doc, read_preset
from ganviz.core.session import Session, SessionError, load_session, save_session

XY = np.array([[0.5, -1.25], [1.0, 2.0], [-3.5, 0.125], [2.0, 2.5], [0.0, 0.0],
               [1.5, -0.5], [-1.0, 1.0], [0.25, 0.75], [3.0, -2.0], [-2.0, -1.5]])


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rows(a, sep=","):
    return "".join(sep.join(repr(float(v)) for v in np.atleast_1d(r)) + "\n" for r in a)


@pytest.mark.parametrize("header, sep", [("", ","), ("x,y\n", ","), ("", " "), ("x y\n", "\t"),
                                         ("# my points\n\"x\",\"y\"\n", ", ")])
def test_csv_two_columns_with_or_without_header(tmp_path, header, sep):
    path = write(tmp_path, "p.csv", header + rows(XY, sep) + "\n")
    assert np.array_equal(points.read_points(path), XY)
    c = Config(data=f"points:{path}")
    assert c.dim == 2 and c.data == f"points:{path}#{points.digest_of(XY)}"


def test_csv_one_column_and_comments(tmp_path):
    x = XY[:, 0]
    path = write(tmp_path, "p.txt", "value\n" + rows(x).replace("\n", "  # a comment\n", 1))
    assert np.array_equal(points.read_points(path), x[:, None])
    assert Config(data=f"points:{path}", z_dim=1).dim == 1


@pytest.mark.parametrize("array", [XY, XY[:, :1], XY[:, 0], (XY * 4).astype(np.int32)])
def test_npy(tmp_path, array):
    path = tmp_path / "p.npy"
    np.save(path, array)
    a = points.read_points(path)
    assert a.dtype == np.float64 and np.array_equal(a.reshape(array.shape), array)


def test_npy_is_known_by_its_content_not_its_name(tmp_path):
    path = tmp_path / "p.dat"
    with open(path, "wb") as f:
        np.save(f, XY)
    assert np.array_equal(points.read_points(path), XY)


def big_rows(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("0\n1\n" * (points.MAX_POINTS // 2) + "2\n")
    return str(path)


def binary(tmp_path, data):
    path = tmp_path / "b.csv"
    path.write_bytes(data)
    return str(path)


def npy_of(tmp_path, array):
    path = tmp_path / "a.npy"
    np.save(path, array)
    return str(path)


@pytest.mark.parametrize("make, words", [
    (lambda d: str(d / "missing.csv"), "cannot read points file"),
    (lambda d: str(d), "is a folder"),
    (lambda d: write(d, "e.csv", ""), "holds no points"),
    (lambda d: write(d, "h.csv", "x,y\n"), "holds no points"),
    (lambda d: write(d, "t.csv", "x,y\n" + rows(XY) + "1,abc\n"), "line 12: '1,abc' is not numbers"),
    (lambda d: write(d, "n.csv", rows(XY) + "nan,1\n"), "point 11 is NaN or infinite"),
    (lambda d: write(d, "i.csv", rows(XY) + "1,inf\n"), "NaN or infinite"),
    (lambda d: write(d, "3.csv", "1,2,3\n" * 20), "has 3 columns; accepted: 1 (x) or 2 (x, y)"),
    (lambda d: write(d, "r.csv", rows(XY) + "1\n"), "line 11: 1 column where the first row has 2"),
    (lambda d: write(d, "f.csv", rows(XY[:9])), "hold 9 points; the kernel density estimate "
                                                "needs at least 10"),
    (lambda d: write(d, "c.csv", "1,2\n" * 20), "do not vary along x"),
    (big_rows, "has 1,000,001 rows; the most accepted is 1,000,000 (subsample it first)"),
    (lambda d: npy_of(d, np.zeros((points.MAX_POINTS + 1, 1))), "holds 1,000,001 points"),
    (lambda d: npy_of(d, np.zeros((20, 3))), "have 3 columns"),
    (lambda d: npy_of(d, np.zeros((4, 5, 2))), "shape (4, 5, 2)"),
    (lambda d: npy_of(d, np.array(["a"] * 20)), "holds <U1 values"),
    (lambda d: npy_of(d, np.zeros((0, 2))), "hold no points"),
    (lambda d: binary(d, b"\xff\xfe\x00junk"), "is not text"),
    (lambda d: binary(d, b"\x93NUMPY\x01\x00junk"), "damaged NPY file"),
    # 10^4 points around 0 and one at x = 1000: the kernel (2.16 wide) is below half a cell (11.3).
    (lambda d: npy_of(d, np.r_[np.random.default_rng(0).normal(size=(10_000, 2)), [[1e3, 0]]]),
     "the kernel along x is 2.16 wide but the points spread over 1122"),
])
def test_bad_points_file_is_one_line_everywhere(tmp_path, capsys, make, words):
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        Config(data=f"points:{path}")
    assert words in str(info.value) and "\n" not in str(info.value)
    # The command line: exit 2 and the same line.
    assert main(["--headless", "--steps", "1", "--set", f"data=points:{path}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganviz: error:") and words in err and "\n" not in err


def test_points_without_a_file_are_refused(tmp_path):
    for data, words in [("points:", "needs a file"),
                        ("points:inline", "preset file"),
                        ("points:drawn#0123456789abcdef", "not at hand")]:
        with pytest.raises(ConfigError, match=words):
            Config(data=data)


def test_file_is_read_once_and_a_changed_file_is_noticed(tmp_path, monkeypatch):
    path = write(tmp_path, "p.csv", rows(XY))
    first = Config(data=f"points:{path}")
    reads = []
    monkeypatch.setattr(points, "read_points", lambda p: reads.append(p) or XY)
    again = Config(data=f"points:{path}")
    assert again.data == first.data and first.replace(seed=3).data == first.data and not reads
    monkeypatch.undo()
    write(tmp_path, "p.csv", rows(XY * 2))
    # The file changed: a config naming the old points still has them (the store) ...
    assert np.array_equal(points.resolve_points(first.data).points, XY)
    # ... and points:PATH alone reads the new ones.
    assert Config(data=f"points:{path}").data != first.data


def test_kernel_estimate_uses_scotts_rule_and_the_run_generator(tmp_path):
    path = write(tmp_path, "p.csv", rows(XY))
    t = make_target(f"points:{path}")
    h = XY.std(axis=0, ddof=1) * len(XY) ** (-1 / 6)
    assert np.allclose(t.bandwidth, h, rtol=1e-15)
    assert t.estimated and t.n_points == 10 and not t.is_mixture and t.dim == 2
    # The density is the mean of Gaussian kernels at the points.
    x = np.array([[0.3, 0.2]])
    kern = np.exp(-0.5 * (((x - XY) / h) ** 2).sum(1)) / (2 * math.pi * h[0] * h[1])
    assert t.density(x)[0] == pytest.approx(kern.mean(), rel=1e-13)
    # The view holds the points and 4 kernel widths around them.
    for j, (lo, hi) in enumerate(t.extent):
        assert lo <= XY[:, j].min() - 4 * h[j] and hi >= XY[:, j].max() + 4 * h[j]
    # In 1-D it is scipy's gaussian_kde (whose default factor is Scott's).
    from scipy.stats import gaussian_kde

    one = make_target(f"points:{write(tmp_path, 'one.csv', rows(XY[:, 0]))}")
    xs = np.linspace(-5, 5, 41)
    assert np.allclose(one.density(xs), gaussian_kde(XY[:, 0]).evaluate(xs), rtol=1e-12, atol=0)
    a = t.sample(5000, torch.Generator().manual_seed(3), "cpu")
    b = t.sample(5000, torch.Generator().manual_seed(3), "cpu")
    assert torch.equal(a, b)
    # A point plus kernel noise: variance = the points' (ddof 0) + h^2.
    var = XY.var(axis=0) + h**2
    assert np.allclose(a.double().var(0).numpy(), var, rtol=0.06)


@pytest.mark.parametrize("dim", [1, 2])
def test_estimate_from_a_known_gaussian_is_close_to_its_closed_form(tmp_path, dim):
    rng = np.random.default_rng(11)
    cov = np.array([[1.0]]) if dim == 1 else np.array([[0.5, 0.2], [0.2, 0.3]])
    mean = np.array([1.0]) if dim == 1 else np.array([0.5, -0.5])
    x = rng.multivariate_normal(mean, cov, size=10_000)
    path = tmp_path / "g.npy"
    np.save(path, x)
    t = make_target(f"points:{path}")
    axes = [np.linspace(m - 6 * math.sqrt(c), m + 6 * math.sqrt(c), 1001 if dim == 1 else 301)
            for m, c in zip(mean, np.diag(cov))]
    est = t.density_grid(*axes)
    inv, det = np.linalg.inv(cov), np.linalg.det(cov)
    grids = np.meshgrid(*axes)  # rows are y in 2-D, as density_grid's
    d = np.stack([g - m for g, m in zip(grids, mean)], -1)
    truth = np.exp(-0.5 * np.einsum("...i,ij,...j->...", d, inv, d)) / math.sqrt(
        (2 * math.pi) ** dim * det)
    js = metrics.js_divergence(truth, est)
    assert js < 0.01
    assert js < (0.001 if dim == 1 else 0.003)  # measured: 3.1e-4 (1-D), 1.3e-3 (2-D)


def test_measure_and_a_probe_say_p_data_is_an_estimate(tmp_path):
    path = write(tmp_path, "p.csv", rows(XY))
    t = make_target(f"points:{path}")
    r = metrics.measure(f"points:{path}", t.sample(2000, torch.Generator().manual_seed(0), "cpu"))
    assert r["p_data_estimated"] is True and r["n_points"] == 10
    assert "modes_total" not in r and math.isfinite(r["js"]) and math.isfinite(r["w1"])


def test_export_reads_back_bit_for_bit(tmp_path):
    a = np.random.default_rng(0).normal(size=(50, 2)) * 1e-3 + 1 / 3
    out = tmp_path / "out.csv"
    points.export_points_csv(out, a)
    assert out.read_text().startswith("x,y\n")
    assert np.array_equal(points.read_points(out), a)
    points.export_points_csv(out, a[:, 0])
    assert out.read_text().startswith("x\n") and np.array_equal(points.read_points(out)[:, 0], a[:, 0])


def forget_points(monkeypatch, tmp_path):
    """A fresh process on another machine: nothing in memory, an empty on-disk store."""
    monkeypatch.setattr(points, "_store", {})
    monkeypatch.setattr(points, "_file_cache", {})
    monkeypatch.setenv("GANVIZ_CACHE", str(tmp_path / "other-cache"))


def test_session_keeps_the_points_when_the_file_is_gone(tmp_path, monkeypatch):
    src = tmp_path / "mine.csv"
    x = np.random.default_rng(4).normal(size=(300, 2)) / 7
    src.write_text(rows(x))
    config = Config(data=f"points:{src}", hidden=16)
    target = make_target(config.data)
    session = tmp_path / "s.json"
    save_session(session, Session(config=config))
    src.unlink()
    forget_points(monkeypatch, tmp_path)
    with pytest.raises(ConfigError, match="cannot read points file"):
        Config(data=config.data)  # without the session, nothing has these points
    loaded = load_session(session)
    assert loaded.config.data == config.data
    again = make_target(loaded.config.data)
    assert np.array_equal(points.resolve_points(loaded.config.data).points, x)
    xs, ys = (np.linspace(*e, 50) for e in again.extent)
    assert again.extent == target.extent
    assert np.array_equal(again.density_grid(xs, ys), target.density_grid(xs, ys))
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(again.sample(100, g1, "cpu"), target.sample(100, g2, "cpu"))


def test_session_keeps_the_old_points_when_the_file_changed(tmp_path):
    src = tmp_path / "mine.csv"
    src.write_text(rows(XY))
    config = Config(data=f"points:{src}")
    save_session(tmp_path / "s.json", Session(config=config))
    src.write_text(rows(XY + 1))
    loaded = load_session(tmp_path / "s.json")
    assert np.array_equal(points.resolve_points(loaded.config.data).points, XY)


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["target"]["points"].update(shape=[10, 3]), "accepted: [n, 1] or [n, 2]"),
    (lambda d: d["target"]["points"].update(data="!!"), "not valid base64"),
    (lambda d: d["target"]["points"].update(shape=[5, 2]), "hold 20 numbers"),
    (lambda d: d["config"].update(data="points:x.csv#0000000000000000"), "config names #0000"),
    (lambda d: d["config"].update(data="ring8"), "needs config data 'points:...'"),
])
def test_broken_target_section_is_one_line(tmp_path, edit, words):
    import json

    src = tmp_path / "mine.csv"
    src.write_text(rows(XY))
    path = tmp_path / "s.json"
    save_session(path, Session(config=Config(data=f"points:{src}")))
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError) as info:
        load_session(path)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_preset_with_inline_points_and_with_a_mixture(tmp_path, monkeypatch):
    import json

    src = tmp_path / "mine.csv"
    src.write_text(rows(XY))
    doc = preset_doc(Config(data=f"points:{src}"), steps=500, title="Mine")
    assert doc["config"]["data"] == "points:inline" and doc["points"] == XY.tolist()
    (tmp_path / "mine.json").write_text(json.dumps(doc))
    forget_points(monkeypatch, tmp_path)
    preset = read_preset(tmp_path / "mine.json")
    assert preset.config.data == f"points:inline#{points.digest_of(XY)}"
    assert np.array_equal(points.resolve_points(preset.config.data).points, XY)
    (tmp_path / "mix.json").write_text(json.dumps({"config": {"data": "mixture:N(-2;0.4)+N(2;0.4)"}}))
    assert read_preset(tmp_path / "mix.json").config.data == "mixture:N(-2;0.4)+N(2;0.4)"
    del doc["points"]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match='needs a "points" list'):
        read_preset(tmp_path / "bad.json")


def test_another_process_finds_registered_points_by_digest(tmp_path):
    """The window's training process is spawned: it finds drawn or session points on disk."""
    import subprocess
    import sys

    found = points.register_points(XY * 3, "drawn")
    code = ("import sys; from ganviz.core.config import Config; from ganviz.core.data import "
            "make_target; t = make_target(Config(data=sys.argv[1]).data); "
            "print(t.n_points, t.density([[0.5, 0.5]])[0].hex())")
    out = subprocess.run([sys.executable, "-c", code, found.data], capture_output=True, text=True,
                         env={**os.environ, "GANVIZ_THREADS": "1", "OMP_NUM_THREADS": "1"},
                         timeout=120)
    here = make_target(found.data).density([[0.5, 0.5]])[0].hex()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["10", here]


def test_headless_runs_on_a_mixture_and_on_a_points_file(tmp_path, capsys):
    import json

    small = ["--steps", "40", "--every", "20", "--set", "hidden=16", "--set", "batch_size=64"]
    assert main(["--headless", "--set", "data=mixture:10*N(-2;0.4)+N(2;0.4)", "--set", "z_dim=1",
                 *small]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["modes_total"] == 2 and 0 <= out["modes_captured"] <= 2
    assert all(math.isfinite(out[k]) for k in ("js", "w1", "high_quality"))
    assert out["config"]["data"] == "mixture:0.909090909091*N(-2;0.4)+0.0909090909091*N(2;0.4)"
    # A session of it goes on with the same target written another way (a cold key unchanged).
    assert main(["--headless", "--set", "data=mixture:10*N(-2;0.4)+N(2;0.4)", "--set", "z_dim=1",
                 *small, "--save", str(tmp_path / "m.json")]) == 0
    capsys.readouterr()
    assert main([str(tmp_path / "m.json"), "--headless", "--steps", "5",
                 "--set", "data=mixture: 20*N(-2;0.4) + 2*N(2;0.4)"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 45
    src = tmp_path / "two.csv"
    rng = np.random.default_rng(1)
    src.write_text("x,y\n" + rows(np.r_[rng.normal(-1, 0.3, (200, 2)), rng.normal(1, 0.3, (200, 2))]))
    assert main(["--headless", "--set", f"data=points:{src}", *small,
                 "--save", str(tmp_path / "s.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert all(math.isfinite(out[k]) for k in ("js", "w1")) and out["modes_total"] is None
    src.unlink()  # the session goes on without the file
    assert main([str(tmp_path / "s.json"), "--headless", "--steps", "10"]) == 0
    assert json.loads(capsys.readouterr().out)["step"] == 50


def test_snapshot_says_what_p_data_is(tmp_path):
    from ganviz.core.probe import Probe, build_snapshot
    from ganviz.core.trainer import Engine

    path = write(tmp_path, "p.csv", rows(XY))
    small = dict(z_dim=2, hidden=8, batch_size=16)
    for data, estimated, n in [(f"points:{path}", True, 10),
                               ("mixture:3*N(-1,0;0.3)+N(1,1;0.2)", False, 0)]:
        e = Engine(Config(data=data, **small))
        snap = build_snapshot(e, Probe(e, n_eval=500), run_id=1, rate=0.0, history={}, force=True)
        info = snap.extras["target"]
        assert info["estimated"] is estimated and info["n_points"] == n
        assert math.isfinite(snap.metrics["js"])
        if estimated:
            assert np.allclose(info["bandwidth"], XY.std(0, ddof=1) * 10 ** (-1 / 6))
            assert snap.mode_centres is None and snap.metrics["modes_total"] is None
        else:
            assert np.allclose(info["weights"], [0.75, 0.25]) and list(info["mode_stds"]) == [0.3, 0.2]
            assert snap.metrics["modes_total"] == 2


def _stored(seed, n=200):
    return np.random.default_rng(seed).normal(size=(n, 2))


def test_the_store_is_bounded_least_recently_used_first(tmp_path, monkeypatch):
    """Past the cap the files used longest ago go; recently used, in-use and new ones stay."""
    forget_points(monkeypatch, tmp_path)
    sets = [points.register_points(_stored(i), "inline") for i in range(5)]
    folder = points.store_dir()
    files = [folder / f"{s.digest}.npy" for s in sets]
    size = files[0].stat().st_size
    old = 1_000_000.0
    for i, f in enumerate(files):  # used long ago, in this order
        os.utime(f, (old + i, old + i))
    monkeypatch.setattr(points, "_store", {})  # another process: none of them in memory
    points._from_store(sets[0].digest)  # ... until a run reads the oldest: it is used now
    monkeypatch.setattr(points, "STORE_BYTES", 3 * size)
    new = points.register_points(_stored(99), "drawn")  # a new file: the store is pruned
    left = {f.name[:16] for f in folder.glob("*.npy")}
    assert left == {new.digest, sets[0].digest, sets[4].digest}
    assert sum(f.stat().st_size for f in folder.glob("*.npy")) <= 3 * size


def test_pruning_spares_points_in_use_and_files_used_within_the_grace(tmp_path, monkeypatch):
    forget_points(monkeypatch, tmp_path)
    kept = points.register_points(_stored(1), "inline")  # held by this process
    fresh = points.register_points(_stored(2), "inline")
    stale = points.register_points(_stored(3), "inline")
    folder = points.store_dir()
    now = 5_000_000.0
    os.utime(folder / f"{kept.digest}.npy", (0, 0))
    os.utime(folder / f"{fresh.digest}.npy", (now - 60, now - 60))  # used a minute ago
    os.utime(folder / f"{stale.digest}.npy", (1, 1))
    (folder / "notes.txt").write_text("not the store's")
    del points._store[fresh.digest], points._store[stale.digest]
    assert points.prune_store(limit=0, now=now) == [stale.digest]
    assert sorted(f.name for f in folder.iterdir()) == sorted(
        [f"{kept.digest}.npy", f"{fresh.digest}.npy", "notes.txt"])


def test_a_session_opens_after_its_points_were_pruned(tmp_path, monkeypatch):
    """A session carries its points: a pruned store file is written again on opening."""
    forget_points(monkeypatch, tmp_path)
    x = _stored(7)
    drawn = points.register_points(x, "drawn")
    session = tmp_path / "s.json"
    save_session(session, Session(config=Config(data=drawn.data, hidden=16)))
    monkeypatch.setattr(points, "_store", {})
    os.utime(points.store_dir() / f"{drawn.digest}.npy", (0, 0))
    assert points.prune_store(limit=0) == [drawn.digest]
    loaded = load_session(session)
    assert np.array_equal(points.resolve_points(loaded.config.data).points, x)
    assert (points.store_dir() / f"{drawn.digest}.npy").exists()  # there for a training process
    assert points.prune_store(limit=0) == []  # and in use: never deleted under it


def test_points_in_use_are_written_again_when_another_process_pruned_them(tmp_path, monkeypatch):
    """A run about to start resolves its data first: its file is back for the training process."""
    forget_points(monkeypatch, tmp_path)
    drawn = points.register_points(_stored(11), "drawn")
    stored = points.store_dir() / f"{drawn.digest}.npy"
    stored.unlink()  # pruned by another ganviz process
    assert np.array_equal(points.resolve_points(drawn.data).points, drawn.points)
    assert stored.exists()
    monkeypatch.setattr(points, "_store", {})  # the training process: only the file
    assert np.array_equal(points.resolve_points(drawn.data).points, drawn.points)
