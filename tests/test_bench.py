"""The benchmark runs and reports what it promises (its speed figures are never asserted)."""

import json

import pytest

from ganviz import bench
from ganviz.core.config import Config

SMALL = bench.BENCH_CONFIG.replace(hidden=16, batch_size=32)


def positive(x):
    return isinstance(x, (int, float)) and x > 0


def test_tiny_bench_has_every_figure():
    r = bench.run(SMALL, tiny=True, gui=False)
    for name in ("reference", "engine", "reference_engine", "engine_live"):
        assert positive(r[name]["steps_per_s"]), name
        assert r[name]["min"] <= r[name]["steps_per_s"] <= r[name]["max"]
    for name in ("engine", "reference_engine", "engine_live"):
        assert positive(r[name]["ratio"])
    assert positive(r["engine_live"]["snapshots_per_s"])
    assert 0.0 <= r["engine_live"]["measure_share"] < 1.0
    assert r["gui"] is None and r["gui_note"]
    assert r["ratios"]["engine/reference"] == r["engine"]["ratio"]
    assert r["ratios"]["engine_live/reference"] == r["engine_live"]["ratio"]
    assert r["ratios"]["gui/reference"] is None
    assert r["targets"]["engine/reference >= 2.0"] in (True, False)
    assert r["targets"]["latency <= 100 ms"] is None  # no GUI measured
    assert r["device"] in ("cpu", "cuda") or r["device"].startswith("cuda")
    assert r["torch_threads"] >= 1
    assert positive(r["peak_rss_mib"])
    assert all(positive(v) for v in r["probe"].values())
    assert Config.from_dict(r["config"]) == SMALL
    json.dumps(r)  # what --json prints
    text = bench.format_table(r)
    assert "engine_live" in text and "reference" in text and "targets:" in text


def test_tiny_sweep_rows():
    rows = bench.sweep(SMALL, tiny=True)
    assert [(r["batch_size"], r["hidden"]) for r in rows] == [(64, 16), (32, 32)]
    for r in rows:
        assert positive(r["reference"]) and positive(r["engine"]) and positive(r["ratio"])
        assert r["gflop_per_step"] == pytest.approx(
            bench.model_gflop(SMALL.replace(batch_size=r["batch_size"], hidden=r["hidden"])), rel=1e-3
        )
    assert "GFLOP/s" in bench.format_sweep(rows)


def test_plain_loop_trains():
    """The yardstick is a working GAN loop: its weights move."""
    step = bench.plain_loop(SMALL)
    G = step.G
    before = [p.detach().clone() for p in G.parameters()]
    for _ in range(3):
        step()
    assert any(not p.detach().equal(b) for p, b in zip(G.parameters(), before))


def test_command_line_json(capsys):
    assert bench.main(["--json", "--tiny", "--no-gui"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert positive(out["engine"]["steps_per_s"]) and "sweep" not in out


def test_model_gflop_of_the_bench_config():
    # About 0.1 GFLOP an iteration at the bench config (hand count of its matrix products).
    assert bench.model_gflop(bench.BENCH_CONFIG) == pytest.approx(0.103, abs=0.005)


def test_tiny_gui_bench(qapp):
    """The app offscreen, briefly, its worker in a thread (no child process to start)."""
    g = bench.measure_gui(SMALL, seconds=0.6, tiny=True, mode="thread")
    assert g["worker"] == "thread"
    for key in ("steps_per_s", "frames_per_s", "draw_ms", "snapshots_per_s", "latency_ms"):
        assert positive(g[key]), key
    assert g["latency_max_ms"] >= g["latency_ms"]
    assert g["startup_s"] >= 0
