"""Headless comparison: the JSON and CSV shapes, each variant equal to its single run, bad input."""

import csv
import json

import numpy as np
import pytest

from ganviz.cli import main
from ganviz.core.config import Config, ConfigError
from ganviz.core.history import CSV_COLUMNS
from ganviz.core.variants import parse_compare
from ganviz.runner.compare import mean_se, run_compare
from ganviz.runner.fixed import run_fixed

SMALL = ["--set", "hidden=16", "--set", "batch_size=64"]


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_each_variant_prints_what_its_single_headless_run_prints(tmp_path, capsys):
    out = _json(capsys, ["--headless", "--preset", "ring8", "--steps", "30", "--every", "10",
                         "--compare", "loss=minimax,hinge", "--csv", str(tmp_path / "c.csv")] + SMALL)
    assert out["compare"] == {"key": "loss", "values": ["minimax", "hinge"]}
    assert [r["variant"] for r in out["runs"]] == ["loss=minimax", "loss=hinge"]
    for run in out["runs"]:
        single = _json(capsys, ["--headless", "--preset", "ring8", "--steps", "30", "--every", "10",
                                "--set", f"loss={run['config']['loss']}"] + SMALL)
        for key in ("steps_per_s", "seconds"):
            single.pop(key)
        assert {k: v for k, v in run.items() if k != "variant"} == single
    with open(tmp_path / "c.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == ("variant",) + CSV_COLUMNS
    assert [r[0] for r in rows[1:]] == ["loss=minimax"] * 30 + ["loss=hinge"] * 30
    assert [int(r[1]) for r in rows[1:31]] == list(range(1, 31))


def test_the_csv_rows_are_the_single_runs_rows(tmp_path):
    base = Config(data="bimodal", hidden=16, batch_size=64)
    key, configs = parse_compare("k=1,3", base)
    run_compare(key, configs, 20, csv_path=tmp_path / "c.csv", every=10, processes=1)
    run_fixed(configs[1], 20, csv_path=tmp_path / "s.csv", every=10)
    with open(tmp_path / "c.csv", newline="") as f:
        compared = [r[1:] for r in csv.reader(f) if r[0] == "k=3"]
    with open(tmp_path / "s.csv", newline="") as f:
        single = list(csv.reader(f))[1:]
    assert compared == single


def test_architectures_train_in_separate_processes_with_the_same_numbers():
    base = Config(data="ring8", hidden=8, batch_size=32)
    key, configs = parse_compare("batch_size=32,64", base)
    two = run_compare(key, configs, 10, every=5, processes=2)  # the pool is closed on return
    one = run_compare(key, configs, 10, every=5, processes=1)
    assert two["batches"] == 2
    for a, b in zip(two["runs"], one["runs"]):
        assert a == b


def test_seeds_get_a_summary_mean_and_standard_error():
    base = Config(data="ring8", hidden=8, batch_size=32)
    key, configs = parse_compare("seed=0,1,2", base)
    out = run_compare(key, configs, 10, every=10, processes=1)
    modes = [r["modes_captured"] for r in out["runs"]]
    s = out["summary"]["modes_captured"]
    assert s["n"] == 3 and s["mean"] == pytest.approx(sum(modes) / 3)
    assert s["text"].startswith("modes captured: ") and "3 seeds" in s["text"]
    assert "js" in out["summary"]
    assert mean_se([1.0, 2.0, 3.0]) == {"mean": 2.0, "se": pytest.approx(1 / 3**0.5), "n": 3}


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--compare", "colour=red,blue"], ["unknown key", "colour", "loss, k"]),
        (["--compare", "hidden=8,16"], ["hidden cannot be compared", "comparable keys", "seed"]),
        (["--compare", "loss=minimax,hinge9"], ["loss=hinge9", "hinge9", "accepted"]),
        (["--compare", "k=1,0"], ["k=0", "between 1"]),
        (["--compare", "lr_d=1e-3,abc"], ["lr_d=abc", "number"]),
        (["--compare", "loss=minimax"], ["1 value", "2 to 16"]),
        (["--compare", "seed=" + ",".join(map(str, range(17)))], ["17 value", "2 to 16"]),
        (["--compare", "k=1,1"], ["twice"]),
        (["--compare", "loss"], ["KEY=V1,V2"]),
    ],
)
def test_bad_comparisons_exit_2_with_one_line(capsys, argv, words):
    assert main(["--headless"] + argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and err.startswith("ganviz: error:") and "\n" not in err
    for word in words:
        assert word in err


def test_the_window_refuses_a_bad_comparison_before_it_opens_and_needs_an_mlp_run(capsys):
    assert main(["--compare", "hidden=8,16"]) == 2
    assert "hidden cannot be compared" in capsys.readouterr().err
    assert main(["--compare", "k=1,2,3,4,5,6,7"]) == 2  # 16 headless, 6 in the window
    err = capsys.readouterr().err
    assert "2 to 6 values" in err and len(err.strip().splitlines()) == 1
    assert main(["--compare", "seed=0,1,2,3,4,5,6,7,8"]) == 2
    assert "2 to 8 values" in capsys.readouterr().err
    assert main(["--headless", "--dynamics", "dirac", "--compare", "k=1,5"]) == 2
    assert "does not apply to --dynamics" in capsys.readouterr().err
    assert main(["--headless", "--compare", "r1=0,1"]) == 2
    assert "r1 cannot be compared" in capsys.readouterr().err


def test_a_preset_compare_entry_is_validated(tmp_path):
    from ganviz.core.presets import read_preset

    path = tmp_path / "p.json"
    path.write_text(json.dumps({"config": {}, "compare": {"key": "k", "values": [1, 5]}}))
    assert read_preset(path).variants()[0] == "k"
    for bad in ({"key": "k", "values": [1]}, {"key": "hidden", "values": [8, 16]}, ["k", 1]):
        path.write_text(json.dumps({"config": {}, "compare": bad}))
        with pytest.raises(ConfigError, match="p.json"):
            read_preset(path)


def test_a_large_batch_split_in_halves_gives_the_same_numbers():
    from ganviz.runner.compare import worth_halving

    base = Config(data="ring8", hidden=64, batch_size=32)
    key, configs = parse_compare("lr_g=1e-3,2e-3,3e-3,4e-3", base)
    assert worth_halving(configs) and not worth_halving(configs[:3])
    halves = run_compare(key, configs, 6, every=3, processes=2)  # closed on return
    one = run_compare(key, configs, 6, every=3, processes=1)
    assert (halves["batches"], one["batches"]) == (2, 1)
    assert halves["runs"] == one["runs"]


def test_a_diverged_variant_says_so_and_the_others_go_on():
    base = Config(data="ring8", hidden=8, batch_size=32, optimizer="sgd")
    key, configs = parse_compare("lr_d=1e-3,1e30", base)
    out = run_compare(key, configs, 20, every=5, processes=1)
    good, bad = out["runs"]
    assert good["step"] == 20 and "diverged" not in good
    assert bad["diverged"]["step"] <= 20 and "too high" in bad["diverged"]["cause"]
    assert bad["config"]["lr_d"] == 1e30
    single = run_fixed(configs[0], 20, every=5)
    assert {k: v for k, v in good.items() if k != "variant"} == {
        k: v for k, v in single.items() if k not in ("steps_per_s", "seconds")}


def test_comparison_presets_tell_their_story_in_short():
    """compare-vanishing at step 100 (its text: minimax 3.3e-4, non-saturating 1.4 on seed 0)
    and compare-k-bimodal at step 500 (1 mode of 2 with k = 1, both with k = 5)."""
    from ganviz.core.presets import load_preset

    key, configs = load_preset("compare-vanishing").variants()
    out = run_compare(key, configs, 100, every=100, processes=1)
    minimax, nonsat = (r["grad_norm_g"] for r in out["runs"])
    assert minimax == pytest.approx(3.33e-4, rel=0.01) and nonsat == pytest.approx(1.442, rel=0.01)
    key, configs = load_preset("compare-k-bimodal").variants()
    out = run_compare(key, configs, 500, every=500, processes=1)
    assert [r["modes_captured"] for r in out["runs"]] == [1.0, 2.0]


def _members_at(sup, n, until):
    """Events of a running comparison until ``until(event)`` held for ``n`` members."""
    seen, out = set(), []

    def done(event):
        out.append(event)
        if until(event):
            seen.add(event.member)
        return len(seen) == n

    for _ in sup.events(done, timeout=60):
        pass
    return out


def test_lockstep_members_take_pauses_changes_and_single_steps_at_one_step():
    """In the window's runner: pause, a hot change, Step D, Step G, a step, resume, finish;
    every member equals its single engine given the same commands at the same steps."""
    from ganviz.core.events import Finished, Paused, Snapshotted
    from ganviz.core.history import History
    from ganviz.core.trainer import Engine
    from ganviz.runner.supervisor import Supervisor

    base = Config(data="ring8", hidden=16, batch_size=32)
    sup = Supervisor(base, "thread", max_steps=120)
    try:
        sup.pause()  # starts paused: the steps below do not depend on the machine's speed
        sup.compare("loss", ("minimax", "wgan-gp", "hinge"))
        events = _members_at(sup, 3, lambda e: isinstance(e, Paused))
        sup.step(20)
        events += _members_at(sup, 3, lambda e: isinstance(e, Snapshotted))
        steps = {e.member: e.snapshot.step for e in events if isinstance(e, Snapshotted)}
        assert set(steps.values()) == {20}  # every member at one step
        at = 20
        sup.change({"lr_g": 3e-4})
        for kind in ("d", "g", "iteration"):
            sup.step(1, kind)
            events += _members_at(sup, 3, lambda e: isinstance(e, Snapshotted))
        sup.resume()
        events += _members_at(sup, 3, lambda e: isinstance(e, Finished))
    finally:
        sup.stop()
    histories = [History() for _ in range(3)]
    for e in events:
        if e.member >= 0 and getattr(e, "snapshot", None) is not None:
            histories[e.member].add(e.snapshot)
    for i, loss in enumerate(("minimax", "wgan-gp", "hinge")):
        engine = Engine(base.replace(loss=loss))
        for _ in range(at):
            engine.train_step()
        engine.apply({"lr_g": 3e-4})
        engine.d_step()
        engine.g_step()
        while engine.step < 120:
            engine.train_step()
        expected = engine.drain()
        got, _ = histories[i].columns()
        assert list(got["step"]) == list(range(1, 121))
        for name in ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g"):
            assert np.array_equal(got[name], expected[name].astype(np.float32).astype(np.float64)), name


@pytest.mark.parametrize("sig, variants", [("SIGINT", "k=1,3"), ("SIGTERM", "batch_size=32,64")])
def test_an_interrupted_comparison_exits_130_and_writes_what_was_done(tmp_path, sig, variants):
    """One batch in this process, or two batches in two processes: one line, exit 130, the CSV."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "c.csv"
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--headless", "--preset", "ring8", "--steps", "10000000",
         "--every", "20", "--csv", str(out), "--compare", variants, "--set", "hidden=16"],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert "training 2 variants" in proc.stderr.readline()
        proc.send_signal(getattr(signal, sig))
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "interrupted at step" in lines[0] and stdout == ""
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and rows[0]["variant"] and "Traceback" not in stderr


def test_a_step_asked_before_a_paused_comparison_began_is_taken():
    """A Step sent right after a paused start (before the members' first Paused) is done,
    as in a single run: it used to wait in the members' inboxes for ever."""
    from ganviz.core.events import Snapshotted
    from ganviz.runner.supervisor import Supervisor

    sup = Supervisor(Config(data="gaussian", z_dim=1, hidden=4, layers=1, batch_size=16),
                     "thread")
    try:
        sup.pause()
        sup.compare("loss", ("minimax", "hinge"))
        sup.step(3)
        got = _members_at(sup, 2, lambda e: isinstance(e, Snapshotted))
        steps = {e.member: e.snapshot.step for e in got if isinstance(e, Snapshotted)}
        assert steps == {0: 3, 1: 3}
    finally:
        sup.stop()
