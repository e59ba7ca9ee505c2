"""The benchmark runs and reports what it promises (its speed figures are never asserted)."""

import json

import pytest
import torch

from ganviz import bench
from ganviz.core.config import Config

SMALL = bench.BENCH_CONFIG.replace(hidden=16, batch_size=32)
LOAD = bench.Load  # the class itself, even while a test wraps bench.Load


def positive(x):
    return isinstance(x, (int, float)) and x > 0


def test_tiny_bench_has_every_figure():
    r = bench.run(SMALL, tiny=True, gui=False, plain_threads=1)
    for name in ("reference", "engine", "reference_engine", "engine_live"):
        assert positive(r[name]["steps_per_s"]), name
        assert r[name]["min"] <= r[name]["steps_per_s"] <= r[name]["max"]
        assert r[name]["threads"] == 1, name
    for name in ("engine", "reference_engine", "engine_live"):
        assert positive(r[name]["ratio"])
    assert positive(r["engine_live"]["snapshots_per_s"])
    assert 0.0 <= r["engine_live"]["measure_share"] < 1.0
    assert r["gui"] == [] and r["gui_note"]
    assert r["load"] is None
    assert r["ratios"]["engine/reference"] == r["engine"]["ratio"]
    assert r["ratios"]["engine_live/reference"] == r["engine_live"]["ratio"]
    assert r["ratios"]["gui/reference"] is None
    assert r["targets"]["engine/reference >= 2.0"] in (True, False)
    assert r["targets"]["latency <= 100 ms"] is None  # no GUI measured
    assert r["targets"]["engine keeps >= 30% under load 3"] is None  # no load measured
    assert r["threads"] == {"reference": 1, "ganviz": 1}
    td = r["thread_difference"]
    assert td["threads"] == 2 and td["steps"] == 50
    assert td["identical"] == (td["max_abs_diff"] == 0.0)
    assert r["device"] in ("cpu", "cuda") or r["device"].startswith("cuda")
    assert r["cores"] >= 1 and r["cpu"]
    assert positive(r["peak_rss_mib"])
    assert all(positive(v) for v in r["probe"].values())
    assert Config.from_dict(r["config"]) == SMALL
    json.dumps(r)  # what --json prints
    text = bench.format_table(r)
    assert "engine_live" in text and "reference" in text and "targets:" in text


def test_each_figure_is_timed_at_its_own_threads(monkeypatch):
    """The plain loop at its thread count, the loop at one, window after window."""
    monkeypatch.delenv("GANVIZ_THREADS", raising=False)
    before = torch.get_num_threads()
    seen = {"plain": set(), "loop": set()}

    def recording(name, step):
        def wrapped():
            seen[name].add(torch.get_num_threads())
            return step()

        wrapped.threads = step.threads
        return wrapped

    chunks = bench.loop_chunks(SMALL, every=4)
    try:
        steps = {"plain": recording("plain", bench.plain_loop(SMALL, threads=2)),
                 "loop": recording("loop", chunks)}
        r = bench.compare(steps, torch.device("cpu"), warmup=0.0, window=0.0, windows=2)
    finally:
        chunks.close()
        torch.set_num_threads(before)
    assert seen == {"plain": {2}, "loop": {1}}
    assert r["plain"]["threads"] == 2 and r["loop"]["threads"] == 1


def test_loop_chunks_train_through_the_loop():
    """The engine figure is loop.train: each call trains exactly one snapshot's iterations."""
    chunks = bench.loop_chunks(SMALL, every=5)
    try:
        assert [chunks() for _ in range(3)] == [5, 5, 5]
    finally:
        chunks.close()


def test_thread_difference_compares_the_same_run():
    """One thread against one: the same seed through the loop twice is bit-identical."""
    td = bench.thread_difference(SMALL, threads=1, steps=20)
    assert td == {"threads": 1, "steps": 20, "identical": True, "max_abs_diff": 0.0}


def test_tiny_sweep_rows():
    rows = bench.sweep(SMALL, tiny=True, plain_threads=1)
    assert [(r["batch_size"], r["hidden"]) for r in rows] == [(64, 16), (32, 32)]
    for r in rows:
        assert positive(r["reference"]) and positive(r["engine"]) and positive(r["ratio"])
        assert r["gflop_per_step"] == pytest.approx(
            bench.model_gflop(SMALL.replace(batch_size=r["batch_size"], hidden=r["hidden"])), rel=1e-3
        )
    assert "GFLOP/s" in bench.format_sweep(rows)


def test_plain_loop_trains():
    """The yardstick is a working GAN loop: its weights move."""
    step = bench.plain_loop(SMALL, threads=1)
    G = step.G
    before = [p.detach().clone() for p in G.parameters()]
    for _ in range(3):
        step()
    assert any(not p.detach().equal(b) for p, b in zip(G.parameters(), before))


def test_command_line_json(capsys, monkeypatch):
    monkeypatch.setattr(bench, "DEFAULT_THREADS", 1)  # the machine is shared: one thread here
    assert bench.main(["--json", "--tiny", "--no-gui", "--no-compare"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert positive(out["engine"]["steps_per_s"]) and "sweep" not in out and out["load"] is None
    assert "comparison" not in out


def test_command_line_refuses_a_negative_load(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--load", "-1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--load takes a number of busy processes >= 0" in err[-1]


def test_command_line_refuses_an_unknown_preset(capsys):
    with pytest.raises(SystemExit) as exc:
        bench.main(["--preset", "nope", "--tiny", "--no-gui"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "unknown preset 'nope'; accepted:" in err[-1] and "ring8" in err[-1]


def test_comparison_rows():
    """4 variants against one run, at the config's width and at 32 (no processes started)."""
    c = bench.comparison(SMALL, tiny=True, halves=False)
    assert c["members"] == 4 and c["width32"]["hidden"] == 32
    for row in (c["bench"], c["width32"]):
        assert positive(row["single_steps_per_s"]) and positive(row["batched_member_steps_per_s"])
        assert row["batched_ratio"] == pytest.approx(
            row["batched_member_steps_per_s"] / row["single_steps_per_s"], rel=0.01)
        assert row["halves_member_steps_per_s"] is None
    assert set(c["targets"].values()) <= {True, False}
    assert "one batch" in bench.format_comparison(c)


def test_model_gflop_of_the_bench_config():
    # About 0.1 GFLOP an iteration at the bench config (hand count of its matrix products).
    assert bench.model_gflop(bench.BENCH_CONFIG) == pytest.approx(0.103, abs=0.005)


@pytest.fixture
def loads():
    """Load objects a test starts; every one is stopped in teardown, pass or fail."""
    made = []

    def make(n, seconds):
        load = LOAD(n, seconds)
        made.append(load)
        return load

    try:
        yield make
    finally:
        for load in made:
            load.stop()


def pid_gone(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            return any(line.startswith("State:") and "Z" in line for line in f)  # a zombie is gone
    except OSError:
        return True


def test_load_processes_run_then_are_gone(loads):
    load = loads(2, seconds=60).start()
    pids = load.pids
    assert len(pids) == 2 and load.alive() == 2
    load.stop()
    assert load.alive() == 0
    assert all(p.returncode is not None for p in load.processes)
    assert all(pid_gone(pid) for pid in pids)


def test_load_processes_end_by_themselves_at_their_deadline(loads):
    load = loads(1, seconds=0.0).start()
    process = load.processes[0]
    # No wall-clock budget: the deadline has passed already, so the spin loop exits.
    assert process.wait(timeout=60) == 0


def test_tiny_bench_under_load(loads, monkeypatch):
    """Quiet, then loaded figures of both loops, and the fraction kept; the processes end."""
    started = []
    def tracked(n, seconds):
        load = loads(n, seconds)
        started.append(load)
        return load

    monkeypatch.setattr(bench, "Load", tracked)
    r = bench.under_load(SMALL, 1, warmup=0.05, window=0.05, windows=2, plain_threads=1)
    assert r["processes"] == 1 and r["alive_at_end"] == 1
    assert set(r["kept"]) == {"reference", "engine"}  # no many-thread loop: the plain one has 1
    for phase in ("quiet", "loaded"):
        for name in ("reference", "engine"):
            assert positive(r[phase][name]["steps_per_s"]), (phase, name)
            assert r[phase][name]["threads"] == 1
    for name in ("reference", "engine"):
        assert r["kept"][name] == pytest.approx(
            r["loaded"][name]["steps_per_s"] / r["quiet"][name]["steps_per_s"], abs=1e-3)
    assert len(started) == 1 and isinstance(started[0], LOAD)
    assert started[0].alive() == 0  # stopped by the bench itself, before teardown
    assert all(pid_gone(pid) for pid in started[0].pids)


def test_tiny_gui_bench(qapp):
    """The app offscreen, briefly, its worker in a thread (no child process to start)."""
    rows, note = bench.gui_rows(SMALL, seconds=0.6, tiny=True,
                                cases=(("thread", True, None), ("thread", False, None),
                                       ("thread", True, "lr_g=0.001,0.002,0.004")))
    assert note == ""
    assert [(g["worker"], g["draw"]) for g in rows] == [("thread", True), ("thread", False),
                                                        ("thread", True)]
    on, off, compared = rows
    # the comparison: 3 panels drawn (its training rate needs two of the first variant's
    # snapshots in a window of 0.3 s, which a busy machine may not give)
    assert compared["members"] == 3 and "members" not in on
    for key in ("frames_per_s", "panels_per_s", "latency_ms"):
        assert positive(compared[key]), key
    for key in ("steps_per_s", "frames_per_s", "draw_ms", "snapshots_per_s", "latency_ms"):
        assert positive(on[key]), key
    assert on["latency_max_ms"] >= on["latency_ms"]
    assert on["startup_s"] >= 0
    assert positive(off["steps_per_s"]) and positive(off["snapshots_per_s"])
    assert off["frames_per_s"] == 0 and off["draw_ms"] is None and off["latency_ms"] is None


def test_load_processes_end_with_a_crashed_bench(tmp_path):
    """A bench that dies without stopping its load leaves nothing spinning."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "pids"
    crashing = subprocess.Popen([sys.executable, "-c", (
        "import os, sys\n"
        "from ganviz.bench import Load\n"
        "load = Load(2, seconds=600).start()\n"
        f"open({str(pid_file)!r}, 'w').write(' '.join(map(str, load.pids)))\n"
        "os._exit(3)\n")], cwd=os.getcwd())
    pids = []
    try:
        assert crashing.wait(timeout=120) == 3
        pids = [int(p) for p in pid_file.read_text().split()]
        assert len(pids) == 2
        # Orphans are reaped by init; poll until they are gone (they check their parent
        # every few ms: the bound only turns a hang into a failure).
        for _ in range(600):
            if all(pid_gone(pid) for pid in pids):
                break
            time.sleep(0.1)
        assert all(pid_gone(pid) for pid in pids)
    finally:
        if crashing.poll() is None:
            crashing.kill()
            crashing.wait()
        for pid in pids:
            if not pid_gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_loop_chunks_end_a_diverging_run_with_one_line(monkeypatch):
    """A run that diverges ends the bench's chunks with an error, never a pause that waits forever."""
    from ganviz.core import loop

    def never_wait(self, timeout):
        raise AssertionError("the loop paused and waits for a resume that never comes")

    monkeypatch.setattr(loop.Inbox, "wait", never_wait)
    diverging = SMALL.replace(optimizer="sgd", lr_d=1e4, lr_g=1e4)
    chunks = bench.loop_chunks(diverging, every=4)
    try:
        with pytest.raises(bench.RunEnded, match=r"diverged at step \d+ .*not finite"):
            for _ in range(50):
                chunks()
    finally:
        chunks.close()


def test_bench_main_says_one_line_on_a_diverging_run(monkeypatch, capsys):
    def diverged(*args, **kwargs):
        raise bench.RunEnded("the benchmarked run diverged at step 2")

    monkeypatch.setattr(bench, "options", diverged)
    assert bench.main(["--options", "--tiny"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["ganviz.bench: the benchmarked run diverged at step 2"]
