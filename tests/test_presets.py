"""The preset scenarios: each file explains itself, their `next` texts chain them
into one story, and the story's key claims hold in short headless runs.

Convention: a preset's texts name another preset in backticks (`vanishing-fixed`)
and use backticks for nothing else, so the names can be checked and followed.

The claims are checked on seed 0 (the presets' seed) with fewer steps than the
presets run, where the effect is already there; the numbers in the presets' texts
come from full-length runs on seeds 0 and 1.
"""

import csv
import json
import re
import statistics
from pathlib import Path

import pytest
import torch

from ganviz.core.config import ConfigError
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


def grad_norms(path) -> list[float]:
    with open(path, newline="") as f:
        return [float(r["grad_norm_g"]) for r in csv.DictReader(f)]


def test_algorithm_1_learns_the_near_gaussian():
    """gaussian-1d: minimax, k = 5, SGD, and p_g sits on N(2, 0.5^2) by step 500."""
    out = run_headless(load_preset("gaussian-1d").config, steps=500, every=500)
    assert out["g_mean"][0] == pytest.approx(2.0, abs=0.25)
    assert out["g_std"][0] == pytest.approx(0.5, abs=0.15)
    assert out["js"] < 0.06


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
    # p_g stays near 0 with JS on ln 2; with the fix it reaches the data at 6.
    assert abs(stuck["g_mean"][0]) < 0.5 and stuck["js"] > 0.69
    assert fixed["g_mean"][0] > 4.0 and fixed["js"] < 0.69
    assert stuck["d_real"] > 0.99 and stuck["d_fake"] < 0.01  # D separates them


def test_k_sets_the_number_of_d_updates_per_iteration():
    k1, k5 = load_preset("bimodal-1d").config, load_preset("bimodal-k5").config
    assert k1 == k5.replace(k=1) and k5.k == 5
    for config, k in ((k1, 1), (k5, 5)):
        e = Engine(config)
        for _ in range(20):
            e.train_step()
        assert (e.step, e.g_updates, e.d_updates) == (20, 20, 20 * k)


def test_k1_collapses_and_hops_while_k5_covers_both_modes():
    k1 = run_headless(load_preset("bimodal-1d").config, 1000, every=1000)
    k5 = run_headless(load_preset("bimodal-k5").config, 1000, every=1000)
    assert k1["modes_captured"] <= 1 and k1["g_std"][0] < 0.5  # one narrow spike
    assert k5["modes_captured"] == 2 and k5["g_std"][0] > 1.5  # both modes, p_data's std 2.04
    # Hopping: with k = 1 the spike changes sides again and again.
    e = Engine(load_preset("bimodal-1d").config)
    z = torch.randn(2000, 1, generator=torch.Generator().manual_seed(1))
    sides = []
    while e.step < 2000:
        for _ in range(100):
            e.train_step()
        with torch.no_grad():
            m = e.G(z).mean().item()
        if abs(m) > 0.5:
            sides.append(m > 0)
    assert sum(a != b for a, b in zip(sides, sides[1:])) >= 3


def test_wasserstein_critic_moves_p_g_while_js_is_stuck_at_ln2():
    """far-wgan-clip: by step 500 p_g has moved a unit towards the data, no overlap yet."""
    out = run_headless(load_preset("far-wgan-clip").config, 500, every=500)
    assert out["g_mean"][0] > 0.8
    assert out["js"] > 0.69
    assert 5e-4 < out["grad_norm_g"] < 1e-2  # small (clipped critic), not vanishing


def test_gradient_penalty_overshoots_in_1d_where_clipping_settles():
    clip = load_preset("far-wgan-clip").config
    gp = load_preset("far-wgan-gp").config
    assert gp == clip.replace(loss="wgan-gp")  # the same problem and optimizer
    settled = run_headless(clip, 2500, every=2500)
    overshot = run_headless(gp, 2500, every=2500)
    assert settled["g_mean"][0] == pytest.approx(6.0, abs=0.5)
    assert overshot["g_mean"][0] > 7.5
    assert overshot["grad_norm_g"] > 1000 * settled["grad_norm_g"]


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
