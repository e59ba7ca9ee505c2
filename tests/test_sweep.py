"""Sweeps: expansions, results.csv (resume, bit-identical rows), the picture, bad input, Ray.

Runs are tiny (a Gaussian, hidden 8, 20 steps), so each sweep takes seconds,
most of it the pool's processes importing torch.
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganviz.core.presets import load_preset
from ganviz.sweep import cli
from ganviz.sweep.results import METRICS, RESULTS_FILE
from ganviz.sweep.spec import Sweep, expand, parse_grid, parse_random, points

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "gaussian-1d", "--set", "hidden=8", "--steps", "20", "--every", "10",
        "--jobs", "2"]
GRID = ["--grid", "lr_d=0.01,0.03", "--grid", "lr_g=0.001,0.003", "--seeds", "2"]


def rows_of(folder: Path) -> list[dict]:
    with open(folder / RESULTS_FILE, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def sweep_cmd(out: Path, *extra: str) -> list[str]:
    return TINY + GRID + ["--out", str(out), *extra]


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Path:
    """A finished 2 x 2 x 2-seed sweep of the tiny config."""
    out = tmp_path_factory.mktemp("sweep") / "out"
    assert cli.main(sweep_cmd(out)) == 0
    return out


# -- expansions ----------------------------------------------------------------------------


def test_grid_expands_to_the_product_first_axis_outermost_times_seeds():
    base = load_preset("gaussian-1d").config.replace(hidden=8, seed=5)
    sweep = expand(Sweep(base, (parse_grid("lr_d=0.01,0.03"), parse_grid("k=1,2,3")), seeds=2))
    assert [(dict(r.point)["lr_d"], dict(r.point)["k"], r.seed) for r in sweep.rows] == [
        (lr, k, s) for lr in (0.01, 0.03) for k in (1, 2, 3) for s in (5, 6)]
    row = sweep.rows[3]  # lr_d 0.01, k 2, seed 6: the base with those three keys changed
    assert row.config == base.replace(lr_d=0.01, k=2, seed=6)
    assert isinstance(dict(row.point)["k"], int)


def test_random_draws_are_fixed_by_the_sample_seed_and_within_their_ranges():
    axes = (parse_random("lr_d=loguniform:1e-5:1e-2"), parse_random("k=uniform:1:5"),
            parse_random("loss=choice:minimax,nonsaturating"))
    a, b = points(axes, 40, sample_seed=3), points(axes, 40, sample_seed=3)
    assert a == b
    assert a != points(axes, 40, sample_seed=4)
    lrs = [dict(p)["lr_d"] for p in a]
    assert all(1e-5 <= x <= 1e-2 for x in lrs)
    # log-uniform: about half the draws below the geometric middle (sqrt(1e-5 * 1e-2) = 3.16e-4)
    assert 10 <= sum(x < 3.16e-4 for x in lrs) <= 30
    assert all(float(f"{x:.4g}") == x for x in lrs)  # rounded to 4 digits: exact in the CSV
    ks = {dict(p)["k"] for p in a}
    assert ks <= {1, 2, 3, 4, 5} and len(ks) >= 3 and all(isinstance(k, int) for k in ks)
    assert {dict(p)["loss"] for p in a} == {"minimax", "nonsaturating"}


def test_grid_times_random_gives_each_grid_point_the_same_draws():
    axes = (parse_grid("k=1,5"), parse_random("lr_g=uniform:0.001:0.002"))
    found = points(axes, 3, sample_seed=0)
    assert [dict(p)["k"] for p in found] == [1, 1, 1, 5, 5, 5]
    assert [dict(p)["lr_g"] for p in found[:3]] == [dict(p)["lr_g"] for p in found[3:]]


# -- results.csv ---------------------------------------------------------------------------


def test_each_row_equals_the_single_headless_run_bit_for_bit(done):
    from ganviz.runner.fixed import run_fixed

    rows = rows_of(done)
    assert len(rows) == 8
    assert {(r["lr_d"], r["lr_g"], r["seed"]) for r in rows} == {
        (d, g, s) for d in ("0.01", "0.03") for g in ("0.001", "0.003") for s in ("0", "1")}
    base = load_preset("gaussian-1d").config.replace(hidden=8)
    for row in (rows[0], rows[-1]):
        config = base.replace(lr_d=float(row["lr_d"]), lr_g=float(row["lr_g"]),
                              seed=int(row["seed"]))
        single = run_fixed(config, 20, every=10)
        for name in METRICS:
            # an undefined metric (None in the JSON, e.g. kl where q has no mass) is empty here
            got = float(row[name] or "nan")
            want = math.nan if single[name] is None else float(single[name])
            assert got == want or (math.isnan(got) and math.isnan(want)), name
        assert [float(x) for x in row["g_mean"].split()] == single["g_mean"]
        assert row["diverged"] == "false" and row["error"] == ""
    seeds = {r["seed"]: r["js"] for r in rows if (r["lr_d"], r["lr_g"]) == ("0.01", "0.001")}
    assert seeds["0"] != seeds["1"]  # the seeds are different runs


def test_a_batch_with_k_and_rates_differing_across_members_gives_each_its_single_run(
        monkeypatch):
    from ganviz.runner import compare
    from ganviz.runner.fixed import run_fixed
    from ganviz.sweep import local

    base = load_preset("gaussian-1d").config.replace(hidden=8)
    sweep = expand(Sweep(base, (parse_grid("k=1,3"), parse_grid("lr_d=0.01,1e10")), seeds=2,
                         steps=20, every=10))
    trained = []
    real = compare._train_batch
    monkeypatch.setattr(compare, "_train_batch",
                        lambda configs, *a: trained.append(len(configs)) or real(configs, *a))
    records = local.run_rows(list(sweep.rows), 20, 10)
    assert trained == [8]  # one batch of all eight members, not eight runs
    for row, rec in zip(sweep.rows, records):
        assert rec["k"] == row.config.k and rec["seed"] == row.seed
        try:
            single, error = run_fixed(row.config, 20, every=10), ""
        except FloatingPointError as exc:  # lr_d 1e10 diverges at its first step
            single, error = None, str(exc)
        assert rec["error"] == error and rec["diverged"] == bool(error)
        if single is None:
            assert row.config.lr_d == 1e10 and math.isnan(rec["js"])
            continue
        for name in METRICS:
            want = math.nan if single[name] is None else float(single[name])
            got = math.nan if rec[name] is None else float(rec[name])  # None: withheld (kl)
            assert got == want or (math.isnan(got) and math.isnan(want)), name
        assert rec["g_mean"] == " ".join(repr(float(x)) for x in single["g_mean"])
    assert sum(r["diverged"] for r in records) == 4


def test_plan_batches_one_architecture_at_a_time_and_runs_other_options_alone():
    from ganviz.sweep import local

    base = load_preset("gaussian-1d").config.replace(hidden=8, device="cpu")
    sweep = expand(Sweep(base, (parse_grid("hidden=8,16"), parse_grid("lr_d=0.01,0.02,0.03")),
                         seeds=3))
    rows = list(sweep.rows)  # 18: 9 of width 8, then 9 of width 16
    batches = local.plan(rows, jobs=2)
    assert [len(b) for b in batches] == [9, 9]
    assert [{r.config.hidden for r in b} for b in batches] == [{8}, {16}]
    assert [r for b in batches for r in b] == rows  # every row once, in the sweep's order
    assert [len(b) for b in local.plan(rows, jobs=2, members=4)] == [3, 3, 3] * 2
    assert [len(b) for b in local.plan(rows[:6], jobs=2)] == [3, 3]  # a batch per process
    assert [len(b) for b in local.plan(rows, jobs=1, members=1)] == [1] * 18
    assert [len(b) for b in local.plan(rows, jobs=8)] == [3] * 6
    # on CUDA (device auto with a CUDA device here): big batches over two processes
    auto = [r.__class__(r.point, r.seed, r.config.replace(device="auto")) for r in rows]
    assert [len(b) for b in local.plan(auto, jobs=8, cuda=True)] == [9, 9]
    assert [len(b) for b in local.plan(auto, jobs=8, cuda=False)] == [3] * 6
    # an option the batched engine does not implement runs alone
    odd = rows[0].__class__(rows[0].point, 0, rows[0].config.replace(r1=0.5))
    assert not local.batchable(odd.config) and local.batchable(rows[0].config)
    assert local.plan([odd] + rows[:4], jobs=1)[-1] == [odd]


def test_the_folder_records_the_command_and_a_rerun_runs_nothing(done, capsys):
    command = (done / "command.txt").read_text()
    assert "ganviz sweep --preset gaussian-1d" in command and "# ganviz 0.1.0" in command
    before = (done / RESULTS_FILE).read_bytes()
    assert cli.main(sweep_cmd(done)) == 0
    assert (done / RESULTS_FILE).read_bytes() == before
    assert "8 rows (0 run now" in capsys.readouterr().out


def test_a_sweep_killed_mid_way_completes_on_rerun_without_losing_or_repeating_rows(tmp_path):
    out = tmp_path / "out"
    # batches of 3: a kill half way leaves whole batches written and one in flight
    argv = TINY[:-2] + ["--jobs", "1", "--members", "3", "--grid", "lr_d=0.01,0.02,0.03",
                        "--grid", "lr_g=0.001,0.002,0.003", "--seeds", "2", "--out", str(out)]
    env = {**os.environ, "GANVIZ_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganviz.sweep", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own group: the pool dies with it
    try:
        while proc.poll() is None:  # wait on the file: two rows written (header + 2 lines)
            path = out / RESULTS_FILE
            if path.exists() and path.read_text().count("\n") >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        _kill_group(proc)
    written = (out / RESULTS_FILE).read_text()
    kept = written.splitlines()[1:]
    assert 3 <= len(kept) < 18
    assert len(kept) % 3 == 0  # whole batches: the one killed in flight wrote nothing
    assert cli.main(argv) == 0
    after = (out / RESULTS_FILE).read_text()
    assert after.startswith(written)  # nothing written before is changed
    rows = rows_of(out)
    keys = [(r["lr_d"], r["lr_g"], r["seed"]) for r in rows]
    assert len(keys) == 18 and len(set(keys)) == 18


def test_sigterm_stops_the_sweep_and_its_processes_and_keeps_the_rows(tmp_path):
    out = tmp_path / "out"
    argv = TINY[:-2] + ["--jobs", "2", "--members", "3", "--steps", "300", "--grid",
                        "lr_d=0.01,0.02,0.03",
                        "--grid", "lr_g=0.001,0.002", "--seeds", "3", "--out", str(out)]
    env = {**os.environ, "GANVIZ_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ganviz.sweep", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        path = out / RESULTS_FILE
        while proc.poll() is None and not (path.exists() and path.read_text().count("\n") >= 2):
            time.sleep(0.05)
        assert proc.poll() is None, "the sweep ended before it could be stopped"
        proc.send_signal(signal.SIGTERM)  # to the sweep alone, as a scheduler would
        err = proc.communicate()[1]
        assert proc.returncode == 130
        assert "interrupted" in err and "rerun the same command" in err
        # the pool's processes were killed and reaped before the sweep exited (multiprocessing's
        # resource tracker leaves on its own once its pipe closes)
        assert not [cmd for cmd in _group(proc.pid) if "spawn_main" in cmd]
    finally:
        _kill_group(proc)
    rows = rows_of(out)
    assert 1 <= len(rows) < 18 and all(r["diverged"] == "false" for r in rows)


def test_a_torn_last_line_is_dropped_and_its_row_runs_again(done, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(done, out)
    lines = (out / RESULTS_FILE).read_text().splitlines(keepends=True)
    (out / RESULTS_FILE).write_text("".join(lines[:-1]) + lines[-1][:25])  # killed mid-write
    assert cli.main(sweep_cmd(out)) == 0
    rows = rows_of(out)
    assert len(rows) == 8 and len({(r["lr_d"], r["lr_g"], r["seed"]) for r in rows}) == 8


def _group(pgid: int) -> list[str]:
    """Command lines of the live processes in process group ``pgid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return found


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


# -- the picture ---------------------------------------------------------------------------


def _check_png(path: Path) -> None:
    from PIL import Image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as img:
        img.load()
        assert img.size == (980, 760)
        colors = img.convert("RGB").getcolors(maxcolors=1 << 20)
    assert len(colors) > 50  # cells, a colour bar and anti-aliased text, not a blank page


def test_the_phase_diagram_is_a_png_with_cells_and_labels(done):
    _check_png(done / "phase.png")


def test_one_axis_and_random_axes_draw_too(tmp_path):
    from ganviz.sweep.phase import draw_phase

    base = load_preset("gaussian-1d").config.replace(hidden=8)
    one = expand(Sweep(base, (parse_grid("lr_d=0.01,0.03"),), seeds=2))
    rand = expand(Sweep(base, (parse_random("lr_d=loguniform:1e-3:1e-1"),
                               parse_random("k=uniform:1:5")), seeds=2, samples=4))
    for sweep, name in ((one, "one.png"), (rand, "rand.png")):
        done = {}
        for i, row in enumerate(sweep.rows):
            diverged = i == 0
            done[row.key()] = {"diverged": "true" if diverged else "false",
                               "js": "" if diverged else repr(0.1 + 0.01 * i)}
        draw_phase(tmp_path / name, sweep, done, "js")
        _check_png(tmp_path / name)


def test_cells_average_over_seeds_and_count_the_diverged():
    from ganviz.sweep.phase import best_and_worst, cells

    base = load_preset("gaussian-1d").config.replace(hidden=8)
    sweep = expand(Sweep(base, (parse_grid("lr_d=0.01,0.03"),), seeds=3))
    values = ["0.1", "0.2", "0.3", "0.5", "", "0.7"]
    done = {r.key(): {"js": v, "diverged": "false" if v else "true"}
            for r, v in zip(sweep.rows, values)}
    found = {c.point[0][1]: c for c in cells(sweep, done, "js")}
    assert found[0.01].mean == pytest.approx(0.2) and found[0.01].se == pytest.approx(0.1 / 3**0.5)
    assert found[0.03].mean == pytest.approx(0.6) and found[0.03].diverged == 1
    best, worst = best_and_worst(list(found.values()), "js")
    assert (best.point[0][1], worst.point[0][1]) == (0.01, 0.03)
    # where more is better (modes captured, high quality), the same means rank the other way
    assert best_and_worst(cells(sweep, done, "js"), "high_quality")[0].point[0][1] == 0.03


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("extra, words", [
    (["--grid", "foo=1,2"], "unknown key 'foo'"),
    (["--grid", "lr_d=1e-3"], "two or more distinct values"),
    (["--grid", "lr_d=1e-3,-1"], "lr_d must be > 0"),
    (["--grid", "k=1,two"], "k must be an integer"),
    (["--grid", "loss=minimax,hinge2"], "unknown loss 'hinge2'"),
    (["--grid", "seed=1,2"], "--seeds"),
    (["--grid", "lr_d=1e-3,1e-2", "--grid", "lr_d=1,2"], "swept twice"),
    (["--random", "lr_d=loguniform:1e-3:1e-2"], "needs --samples"),
    (["--random", "lr_d=normal:0:1", "--samples", "3"], "unknown distribution 'normal'"),
    (["--random", "lr_d=loguniform:0:1", "--samples", "3"], "0 < A < B"),
    (["--grid", "lr_d=1e-3,1e-2", "--metric", "fid"], "unknown --metric 'fid'"),
    (["--grid", "lr_d=1e-3,1e-2", "--seeds", "0"], "--seeds must be a positive"),
    (["--grid", "lr_d=1e-3,1e-2", "--members", "0"], "--members must be a positive"),
    (["--grid", "lr_d=1e-3,1e-2", "--set", "hidden=0"], "hidden must be between"),
    (["--preset", "nope", "--grid", "lr_d=1e-3,1e-2"], "unknown preset 'nope'"),
    ([], "nothing to sweep"),
])
def test_bad_input_is_one_line_and_exit_2_before_anything_runs(tmp_path, capsys, extra, words):
    out = tmp_path / "out"
    argv = ["--preset", "gaussian-1d", "--set", "hidden=8", "--steps", "20"]
    if extra[:1] == ["--preset"]:
        argv = argv[2:]
    assert cli.main(argv + extra + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not out.exists()


def test_a_folder_holding_another_sweep_is_refused_and_kept(done, capsys):
    before = (done / RESULTS_FILE).read_bytes()
    other = TINY + ["--grid", "lr_d=0.01,0.05", "--grid", "lr_g=0.001,0.003", "--seeds", "2",
                    "--out", str(done)]
    assert cli.main(other) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds another sweep (different: axes)" in err
    assert cli.main(sweep_cmd(done, "--steps", "30")) == 2  # the same grid, other steps
    assert "(different: steps)" in capsys.readouterr().err
    assert (done / RESULTS_FILE).read_bytes() == before


@pytest.mark.parametrize("edit, words", [
    (lambda lines: lines[:2] + ["garbage,line\n"] + lines[2:], "line 3 is unreadable (2 fields"),
    (lambda lines: lines + [lines[1]], "line 10 is unreadable (a config and seed already"),
    (lambda lines: lines[:1] + [lines[1].replace(",false,", ",maybe,")] + lines[2:],
     "diverged must be true or false"),
    (lambda lines: lines[:1] + ["0.07" + lines[1][lines[1].index(","):]] + lines[2:],
     "a config and seed this sweep does not have"),
    (lambda lines: ["lr_d,seed\n"] + lines[1:], "line 1: the columns are not this sweep's"),
])
def test_an_unreadable_results_csv_is_named_and_left_as_it_is(done, tmp_path, capsys, edit,
                                                              words):
    out = tmp_path / "out"
    shutil.copytree(done, out)
    lines = (out / RESULTS_FILE).read_text().splitlines(keepends=True)
    (out / RESULTS_FILE).write_text("".join(edit(lines)))
    before = (out / RESULTS_FILE).read_bytes()
    assert cli.main(sweep_cmd(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert (out / RESULTS_FILE).read_bytes() == before


def test_a_folder_written_before_a_config_key_existed_is_still_this_sweep(done, tmp_path):
    import json

    out = tmp_path / "out"
    shutil.copytree(done, out)
    spec = json.loads((out / "sweep.json").read_text())
    del spec["base"]["instance_noise"]  # as written by a ganviz without that key (its default)
    (out / "sweep.json").write_text(json.dumps(spec))
    assert cli.main(sweep_cmd(out)) == 0
    spec["base"]["lr_g"] = 0.5  # a different base is another sweep
    (out / "sweep.json").write_text(json.dumps(spec))
    assert cli.main(sweep_cmd(out)) == 2


def test_a_results_csv_without_a_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / RESULTS_FILE).write_text("a,b\n1,2\n")
    assert cli.main(sweep_cmd(out)) == 2
    assert "no sweep.json" in capsys.readouterr().err
    assert (out / RESULTS_FILE).read_text() == "a,b\n1,2\n"


def test_without_ray_the_ray_backend_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError, Ray or not
    out = tmp_path / "out"
    assert cli.main(sweep_cmd(out, "--backend", "ray")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install -e ".[sweep]"' in err
    assert not out.exists()


def test_the_installed_script_hands_sweep_to_the_sweep(tmp_path, capsys):
    from ganviz.cli import main

    assert main(["sweep", "--preset", "gaussian-1d", "--grid", "lr_d=1",
                 "--out", str(tmp_path / "o")]) == 2
    assert "ganviz sweep: error: --grid lr_d=1: an axis needs two" in capsys.readouterr().err


# -- Ray -----------------------------------------------------------------------------------


def _ray():
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError:
        pytest.skip('Ray Tune is not installed (pip install -e ".[sweep]"); .ci/run installs it')


def test_the_ray_backend_on_a_local_instance_gives_the_local_rows(done, tmp_path):
    _ray()
    out = tmp_path / "ray"
    assert cli.main(sweep_cmd(out, "--backend", "ray")) == 0
    timing = ("seconds", "steps_per_s")
    strip = lambda rows: sorted(  # noqa: E731
        tuple((k, v) for k, v in r.items() if k not in timing) for r in rows)
    assert strip(rows_of(out)) == strip(rows_of(done))
    _check_png(out / "phase.png")


def test_an_unreachable_ray_cluster_is_one_line(tmp_path, capsys):
    _ray()
    out = tmp_path / "out"
    # port 1 on this machine: nothing listens there, the connection is refused at once
    assert cli.main(sweep_cmd(out, "--backend", "ray", "--address", "127.0.0.1:1")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot reach the Ray cluster at 127.0.0.1:1" in err, err
    assert cli.main(sweep_cmd(out, "--backend", "ray", "--address", "head")) == 2
    assert "is not HOST:PORT" in capsys.readouterr().err
