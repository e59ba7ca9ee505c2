"""The preset scenarios: each file explains itself, their `next` texts chain them
into one story, and the story's key claims hold in short headless runs.

Convention: a preset's texts name another preset in backticks (`vanishing-fixed`)
and use backticks for nothing else, so the names can be checked and followed.

The numbers the texts state come from full-length runs on seeds 0 and 1 with
one torch thread (the same numbers headless and in the window); the tests
assert them on both seeds where a run takes a few seconds on the CPU, and on
seed 0, or at fewer steps where the effect is already there, otherwise.
"""

import csv
import functools
import json
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from ganviz.core.config import ConfigError
from ganviz.core.events import Diverged
from ganviz.core.loop import DivergencePolicy, Schedule, train
from ganviz.core.trainer import Engine
from ganviz.runner.fixed import run_fixed as run_headless
from ganviz.core.presets import load_preset, preset_names

NAMES = preset_names()
START = "gaussian-1d"  # where the story begins
PAPER_START = "paper-dirac-gan"  # where the dynamics lab's replays begin
TEXTS = ("title", "explanation", "look_for", "next")
TICKED = re.compile(r"`([^`]*)`")
NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def named(text: str) -> list[str]:
    """The preset names a text refers to (the spans in backticks)."""
    return TICKED.findall(text)


def unknown_names(text: str) -> list[str]:
    """Names in backticks that are not presets."""
    return [n for n in named(text) if n not in NAMES]


# --- the files ------------------------------------------------------------------


def test_the_story_presets_exist():
    story = {"gaussian-1d", "vanishing-gradients", "vanishing-fixed", "far-wgan-clip",
             "far-wgan-gp", "bimodal-1d", "bimodal-k5", "ring8", "ring8-wgan-clip",
             "ring8-wgan-gp", "grid25", "grid25-hopping", "spiral"}
    assert story <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_preset_loads_and_explains_itself(name):
    assert NAME.fullmatch(name), f"{name}: preset names are lowercase-with-dashes"
    p = load_preset(name)
    for field in TEXTS:
        text = getattr(p, field)
        assert text.strip(), f"{name}: {field} is empty"
        assert text.count("`") % 2 == 0, f"{name}: unbalanced backtick in {field}"
    assert len(p.explanation) > 150 and len(p.look_for) > 60
    # Classroom-friendly: the story shows within seconds in the window (a paper
    # replay of a toy game runs the paper's own steps).
    assert 500 <= p.steps <= 10_000 or p.dynamics and 1 <= p.steps <= 10_000
    assert p.config.seed == 0


@pytest.mark.parametrize("name", NAMES)
def test_names_in_backticks_are_existing_presets(name):
    p = load_preset(name)
    for field in TEXTS:
        text = getattr(p, field)
        assert unknown_names(text) == [], f"{name}: {field} names no such preset"
        assert name not in named(p.next), f"{name}: next points to itself"


def test_the_name_check_catches_a_wrong_name():
    assert unknown_names("Open `ring9`, or `ring8`.") == ["ring9"]
    assert named("Set the loss to nonsaturating.") == []


def test_next_links_chain_every_preset_into_one_story():
    """One story of MLP runs from START, and one of the paper replays of the toy games."""
    reached, todo = {START, PAPER_START}, [START, PAPER_START]
    while todo:
        for n in named(load_preset(todo.pop()).next):
            if n not in reached:
                reached.add(n)
                todo.append(n)
    assert reached == set(NAMES), f"not reached from {START}: {sorted(set(NAMES) - reached)}"


# --- the story, in short runs ---------------------------------------------------
#
# Each test runs a preset (seeds 0 and 1 where a run takes a few seconds) and
# asserts the numbers its texts state, at the steps they name. Longer claims
# (grid25, spiral, ring8-wgan-gp, the runs of 3000 and more) were measured by
# hand with `python main.py --headless --preset P --steps N --csv f.csv`.


@dataclass
class Trace:
    """A preset's run: measured rows by step (step 0 included) and G's per-step gradient norm."""

    rows: dict
    grad_g: np.ndarray  # (steps,) |grad G| of iterations 1..steps

    def col(self, name, since=0, until=None):
        """(steps, values) of a measured column (mean/std: axis 0) from ``since`` to ``until``."""
        steps = [s for s in sorted(self.rows) if s >= since and (until is None or s <= until)]
        return steps, np.array([self.rows[s][name] for s in steps], dtype=float)


@functools.lru_cache(maxsize=None)
def trace(name: str, seed: int, steps: int, every: int, **changes) -> Trace:
    """Train a preset as ``--headless`` does, measuring every ``every`` iterations.

    p_g's mean and std are those of 10^4 fixed noise draws through G, so they
    do not disturb the run's random stream (the same trajectory as headless).
    """
    config = load_preset(name).config.replace(seed=seed, **changes)
    engine = Engine(config)
    z = torch.randn(10_000, config.z_dim, generator=torch.Generator().manual_seed(12345))
    rows, grads = {}, []
    events = train(config, schedule=Schedule.every_steps(every),
                   policy=DivergencePolicy(on_divergence="stop"), max_steps=steps, engine=engine)
    for event in events:
        assert not isinstance(event, Diverged), f"{name}: diverged at step {event.step}"
        snap = event.snapshot
        grads += list(snap.history.get("grad_norm_g", []))
        with torch.no_grad():
            fake = engine.G(z.to(engine.device)).cpu().numpy().astype(np.float64)
        rows[snap.step] = {**snap.metrics, "mean": fake.mean(0)[0], "std": fake.std(0, ddof=1)[0],
                           "mean_xy": fake.mean(0), "mode_counts": snap.mode_counts}
    return Trace(rows, np.array(grads, dtype=float))


def grad_norms(path) -> list[float]:
    with open(path, newline="") as f:
        return [float(r["grad_norm_g"]) for r in csv.DictReader(f)]


def sides_changes(steps, means) -> list[int]:
    """The steps at which a 1-D spike changes side of 0 (ignoring |mean| < 0.5: mid-jump)."""
    sides = [(s, m > 0) for s, m in zip(steps, means) if abs(m) > 0.5]
    return [b[0] for a, b in zip(sides, sides[1:]) if a[1] != b[1]]


def test_the_trace_is_the_headless_run():
    out = run_headless(load_preset("gaussian-1d").config, steps=500, every=500)
    row = trace("gaussian-1d", 0, 500, 50).rows[500]
    assert row["js"] == out["js"] and row["grad_norm_g"] == out["grad_norm_g"]
    assert row["mean"] == pytest.approx(out["g_mean"][0], abs=0.02)  # other noise draws


@pytest.mark.parametrize("seed", [0, 1])
def test_algorithm_1_learns_the_near_gaussian(seed):
    """gaussian-1d: D(G(z)) about 0.001 at first, p_g on N(2, 0.5^2) by step 300, JS < 0.05 by 500."""
    t = trace("gaussian-1d", seed, 500, 50)
    assert all(t.rows[s]["d_fake"] < 0.003 for s in (50, 100))
    assert abs(t.rows[100]["mean"]) < 0.2  # still where it started
    assert t.rows[300]["mean"] == pytest.approx(2.0, abs=0.15)
    assert t.rows[500]["js"] < 0.05


@pytest.mark.slow
def test_algorithm_1_keeps_the_gaussian_with_flares():
    """gaussian-1d to its 3000 steps: JS < 0.05 most of the time, flares of 0.1-0.36, one at 3000."""
    _, js = trace("gaussian-1d", 0, 3000, 50).col("js", since=500)
    assert (js < 0.05).mean() > 0.8
    assert 0.1 < js.max() < 0.4
    end = trace("gaussian-1d", 0, 3000, 50).rows[3000]
    assert end["js"] > 0.1 and end["std"] > 0.9


def test_minimax_gradient_vanishes_where_the_nonsaturating_one_does_not(tmp_path):
    """The same far problem, strong D and step: minimax leaves G with ~1e-4, the fix ~1."""
    stuck = run_headless(load_preset("vanishing-gradients").config, 200,
                         csv_path=tmp_path / "minimax.csv", every=200)
    fixed = run_headless(load_preset("vanishing-fixed").config, 200,
                         csv_path=tmp_path / "ns.csv", every=200)
    assert stuck["config"] == {**fixed["config"], "loss": "minimax"}  # only the loss differs
    g_stuck = statistics.median(grad_norms(tmp_path / "minimax.csv")[50:])
    g_fixed = statistics.median(grad_norms(tmp_path / "ns.csv")[50:])
    assert g_stuck < 1e-3 < 0.05 < g_fixed
    assert g_fixed > 300 * g_stuck
    # p_g stays near 0 with JS on ln 2; with the fix it is past 4 by step 200.
    assert abs(stuck["g_mean"][0]) < 0.5 and stuck["js"] > 0.69
    assert fixed["g_mean"][0] > 4.0
    assert stuck["d_real"] > 0.99 and stuck["d_fake"] < 0.01  # D separates them


@pytest.mark.parametrize("seed", [0, 1])
def test_vanishing_gradients_numbers(seed):
    """3e-4 to 4e-4 at step 100, 4e-5 to 6e-5 at 2000; p_g's mean moves by less than 0.1."""
    t = trace("vanishing-gradients", seed, 2000, 1000)
    assert 3e-4 < t.grad_g[99] < 4.5e-4
    assert 4e-5 < t.grad_g[1999] < 7e-5
    assert abs(t.rows[2000]["mean"] - t.rows[0]["mean"]) < 0.1
    assert t.rows[2000]["js"] > 0.69 and t.rows[2000]["d_real"] > 0.99 > 0.01 > t.rows[2000]["d_fake"]


@pytest.mark.parametrize("seed", [0, 1])
def test_vanishing_fixed_numbers(seed):
    """Past the data within 20 steps, swings between 2 and 13, a narrow spike on 6 by 1000."""
    t = trace("vanishing-fixed", seed, 1000, 10)
    stuck = trace("vanishing-gradients", seed, 200, 200)
    early = t.grad_g[:200]
    assert np.quantile(early, 0.1) > 0.2 and np.quantile(early, 0.9) < 15
    assert 2000 < np.median(early / stuck.grad_g[:200]) < 10_000  # "some 5000 times"
    assert t.rows[20]["mean"] > 10
    _, swing = t.col("mean", since=20, until=150)
    assert swing.min() < 4 and 1.0 < swing.min() and 11 < swing.max() < 14
    end = t.rows[1000]
    assert end["mean"] == pytest.approx(6.0, abs=0.15) and 0.04 < end["std"] < 0.08
    assert abs(end["d_real"] - end["d_fake"]) < 0.06 and 0.39 < end["d_real"] < 0.55
    assert 0.4 < end["js"] < 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_wasserstein_critic_moves_p_g_while_js_is_stuck_at_ln2(seed):
    """far-wgan-clip: mean 1.1-1.3 at step 500, 2.2-2.8 at 1000, JS on ln 2, |grad G| ~1e-3."""
    t = trace("far-wgan-clip", seed, 1000, 100)
    assert 1.1 < t.rows[500]["mean"] < 1.35
    assert 2.15 < t.rows[1000]["mean"] < 2.85
    assert t.col("js")[1].min() > 0.69
    g = t.grad_g[99:]
    assert 8e-4 < np.quantile(g, 0.1) and np.quantile(g, 0.9) < 3e-3  # small, not vanishing


@pytest.mark.slow
def test_gradient_penalty_overshoots_in_1d_where_clipping_settles():
    clip = load_preset("far-wgan-clip").config
    gp = load_preset("far-wgan-gp").config
    assert gp == clip.replace(loss="wgan-gp")  # the same problem and optimizer
    settled = trace("far-wgan-clip", 0, 3000, 100)
    overshot = trace("far-wgan-gp", 0, 3000, 100)
    steps, mean = settled.col("mean")
    arrived = steps[int(np.argmax(np.abs(mean - 6) < 0.3))]
    assert 1700 <= arrived <= 2000
    end = settled.rows[3000]
    assert end["mean"] == pytest.approx(6.0, abs=0.3) and 0.45 < end["std"] < 0.65
    assert 5e-5 < np.median(settled.grad_g[2500:]) < 5e-4  # 1e-4 to 3e-4 once arrived
    # With the penalty: |grad G| 4-8.5, at 6 around step 1800-2000, then far beyond it.
    assert 3.9 < overshot.grad_g[499:].min() and overshot.grad_g.max() < 8.5
    steps, mean = overshot.col("mean")
    assert 1750 <= steps[int(np.argmax(np.abs(mean - 6) < 0.3))] <= 2000
    assert 11 < overshot.rows[3000]["mean"] < 14
    after = [s for s in overshot.rows if s >= 2100]
    assert all(overshot.rows[s]["d_fake"] > overshot.rows[s]["d_real"] for s in after)


def test_k_sets_the_number_of_d_updates_per_iteration():
    k1, k5 = load_preset("bimodal-1d").config, load_preset("bimodal-k5").config
    assert k1 == k5.replace(k=1) and k5.k == 5
    for config, k in ((k1, 1), (k5, 5)):
        e = Engine(config)
        for _ in range(20):
            e.train_step()
        assert (e.step, e.g_updates, e.d_updates) == (20, 20, 20 * k)


@pytest.mark.parametrize("seed", [0, 1])
def test_k1_collapses_and_hops(seed):
    """bimodal-1d: a spike of std 0.05-0.07 on one mode, changing sides every 250 steps or so."""
    t = trace("bimodal-1d", seed, 2000, 20)
    _, modes = t.col("modes_captured", since=500)
    _, std = t.col("std", since=500)
    _, js = t.col("js", since=500)
    assert (modes == 1).mean() > 0.75 and 0.04 < np.median(std) < 0.08
    assert (js > 0.6).mean() > 0.6
    hops = sides_changes(*t.col("mean"))
    assert len(hops) >= 6 and 150 <= np.median(np.diff(hops)) <= 350


@pytest.mark.parametrize("seed", [0, 1])
def test_k5_covers_both_modes(seed):
    """bimodal-k5: both modes by step 100 and kept, std about 2, JS about 0.2, D near 1/2."""
    t = trace("bimodal-k5", seed, 1000, 50)
    assert all(t.col("modes_captured", since=100)[1] == 2)
    _, std = t.col("std", since=500)
    _, js = t.col("js", since=500)
    assert 1.4 < std.min() and std.max() < 2.6 and np.median(std) == pytest.approx(2.0, abs=0.25)
    assert 0.12 < js.min() and js.max() < 0.4
    assert abs(t.rows[1000]["d_real"] - 0.5) < 0.05 and abs(t.rows[1000]["d_fake"] - 0.5) < 0.05


def test_ring8_collapses_onto_one_place_and_hops():
    """ring8: modes captured 0 or 1 of 8, D within 0.05 of 1/2, JS near ln 2, the cloud moving."""
    t = trace("ring8", 0, 1500, 50)
    _, modes = t.col("modes_captured", since=500)
    assert (modes <= 1).mean() > 0.8 and modes.max() <= 4
    for side in ("d_real", "d_fake"):
        assert np.abs(t.col(side, since=500)[1] - 0.5).max() < 0.06
    assert np.median(t.col("js", since=500)[1]) > 0.65
    held = [int(np.argmax(t.rows[s]["mode_counts"])) for s in sorted(t.rows)
            if s >= 500 and t.rows[s]["mode_counts"].max() > 0]
    assert len(set(held)) >= 3  # it lands on one mode after another


def test_weight_clipping_touches_every_mode_but_blurs():
    """ring8-wgan-clip: 8 of 8 modes, few samples near a mode, JS near 0.5."""
    t = trace("ring8-wgan-clip", 0, 1000, 500)
    assert t.rows[1000]["modes_captured"] == 8 and t.rows[500]["modes_captured"] == 8
    assert t.rows[1000]["high_quality"] < 0.25 and 0.45 < t.rows[1000]["js"] < 0.6


def test_presets_are_listed_in_story_order(tmp_path):
    from ganviz.core.presets import preset_names, read_preset

    names = preset_names()
    assert names[0] == "gaussian-1d" and names.index("vanishing-gradients") < names.index("vanishing-fixed")
    assert names.index("ring8-wgan-clip") < names.index("ring8-wgan-gp")
    # Without an order a preset goes last; a bad order is refused in one line.
    for name, order in (("b", 2), ("a", None), ("c", 1)):
        doc = {"config": {}} if order is None else {"order": order, "config": {}}
        (tmp_path / f"{name}.json").write_text(json.dumps(doc))
    assert preset_names(tmp_path) == ["c", "b", "a"]
    (tmp_path / "d.json").write_text(json.dumps({"order": "first", "config": {}}))
    with pytest.raises(ConfigError, match="order must be an integer"):
        read_preset(tmp_path / "d.json")


def test_presets_ship_inside_the_package():
    import ganviz
    from ganviz.core.presets import PRESET_DIR

    assert PRESET_DIR == Path(ganviz.__file__).resolve().parent / "presets"
    assert len(list(PRESET_DIR.glob("*.json"))) == len(NAMES) >= 13


def test_scan_presets_keeps_the_readable_ones_and_says_why_the_others_are_not(tmp_path):
    from ganviz.core.presets import scan_presets

    (tmp_path / "good.json").write_text(json.dumps({"config": {"k": 2}, "title": "Good"}))
    (tmp_path / "bad.json").write_text(json.dumps({"config": {"k": 0}}))
    (tmp_path / "binary.json").write_bytes(b"\xff\x00")
    presets, broken = scan_presets(tmp_path)
    assert [p.name for p in presets] == ["good"] and presets[0].config.k == 2
    assert sorted(broken) == ["bad", "binary"]
    assert "k must be between 1" in broken["bad"] and "not UTF-8" in broken["binary"]
    assert all("\n" not in reason for reason in broken.values())
