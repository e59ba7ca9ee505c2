"""`main.py --screenshot` trains with the window drawn, saves a PNG that is not blank, exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganviz.core.presets import preset_names

ROOT = Path(__file__).resolve().parents[1]


def _pick(wanted: str, dim: int) -> str:
    names = preset_names()
    if wanted in names:
        return wanted
    from ganviz.core.presets import load_preset

    for name in names:  # whatever exists of that dimension
        if load_preset(name).config.dim == dim:
            return name
    pytest.skip(f"no {dim}-D preset")


@pytest.mark.parametrize("wanted,dim", [("gaussian-1d", 1), ("ring8", 2)])
def test_screenshot_of_a_preset_is_not_blank(tmp_path, wanted, dim):
    import imageio.v3 as iio

    preset = _pick(wanted, dim)
    out = tmp_path / f"{preset}.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "main.py", "--preset", preset, "--steps", "200", "--screenshot", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    image = iio.imread(out)
    assert image.shape[0] >= 600 and image.shape[1] >= 900
    rgb = image[..., :3].astype(float)
    assert rgb.std() > 20  # far from one flat colour
    # The plots themselves are drawn: the middle of the window is not uniform either.
    h, w = rgb.shape[:2]
    middle = rgb[h // 4 : 3 * h // 4, w // 3 : 2 * w // 3]
    assert middle.std() > 10
    assert len(np.unique(middle.reshape(-1, 3), axis=0)) > 50


def test_session_file_opens_in_the_window_and_trains_on(tmp_path):
    """`main.py lesson.json --steps N`: the window opens the session and trains N more."""
    session = tmp_path / "lesson.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    common = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    prep = subprocess.run([sys.executable, "main.py", "--headless", "--preset", "ring8", "--steps",
                           "40", "--set", "hidden=16", "--save", str(session)], **common)
    assert prep.returncode == 0, prep.stderr[-2000:]
    out = tmp_path / "shot.png"
    proc = subprocess.run([sys.executable, "main.py", str(session), "--steps", "30",
                           "--screenshot", str(out)], **common)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and out.stat().st_size > 10_000
    assert f"saved {out} (step 70)" in proc.stderr, proc.stderr[-2000:]


def _json(proc) -> dict:
    import json

    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


#: What both print and must agree on, bit for bit (not the wall-clock figures).
SAME = ("step", "loss_d", "loss_g", "js", "kl", "w1", "grad_norm_g", "grad_norm_d", "d_real",
        "d_fake", "modes_captured", "high_quality", "value", "g_mean", "g_std", "config")


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_the_window_and_a_headless_run_print_the_same_metrics(tmp_path, mode):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GANVIZ_WORKER=mode)
    env.pop("GANVIZ_THREADS", None)  # the policy itself, not the tests' setting
    common = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    args = ["--preset", "vanishing-fixed", "--steps", "100"]
    window = _json(subprocess.run([sys.executable, "main.py", *args, "--screenshot",
                                   str(tmp_path / "x.png")], **common))
    headless = _json(subprocess.run([sys.executable, "main.py", "--headless", *args], **common))
    assert {k: window[k] for k in SAME} == {k: headless[k] for k in SAME}


def test_a_session_with_set_values_opens_in_the_window_with_them(tmp_path):
    """The session is read once and --set applies on top of it, in the window too."""
    session = tmp_path / "lesson.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    common = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    prep = subprocess.run([sys.executable, "main.py", "--headless", "--preset", "gaussian-1d",
                           "--steps", "20", "--save", str(session)], **common)
    assert prep.returncode == 0, prep.stderr[-2000:]
    shown = _json(subprocess.run([sys.executable, "main.py", str(session), "--set", "lr_d=0.0123",
                                  "--steps", "5", "--screenshot", str(tmp_path / "s.png")],
                                 **common))
    assert shown["config"]["lr_d"] == 0.0123 and shown["step"] == 25


def test_screenshot_of_a_comparison_prints_its_runs_and_draws_each_variant(tmp_path):
    """`--compare` in the window: small multiples, and the headless comparison's `runs`."""
    import json

    import imageio.v3 as iio

    out = tmp_path / "cmp.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "main.py", "--preset", "ring8", "--set", "hidden=16", "--steps", "60",
         "--compare", "k=1,3", "--screenshot", str(out), "--window-size", "1280x720"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    printed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert printed["compare"] == {"key": "k", "values": [1, 3]}
    assert [r["variant"] for r in printed["runs"]] == ["k=1", "k=3"]
    assert all(r["step"] == 60 and r["config"]["hidden"] == 16 for r in printed["runs"])
    image = iio.imread(out)
    assert image.shape[:2] == (720, 1280)
    assert image[..., :3].astype(float).std() > 20


def test_the_window_and_a_headless_run_say_alike_that_p_data_is_an_estimate(tmp_path):
    """A loaded (points:) target: --screenshot prints the same p_data note a headless run does."""
    path = tmp_path / "p.csv"
    x = np.random.default_rng(0).normal(size=(400, 2))
    path.write_text("".join(f"{float(a)!r},{float(b)!r}\n" for a, b in x))
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", GANVIZ_CACHE=str(tmp_path / "cache"))
    common = dict(cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    args = ["--set", f"data=points:{path}", "--set", "hidden=16", "--steps", "20"]
    window = _json(subprocess.run([sys.executable, "main.py", *args, "--screenshot",
                                   str(tmp_path / "x.png")], **common))
    headless = _json(subprocess.run([sys.executable, "main.py", "--headless", *args], **common))
    assert window["p_data"]["estimate"] == "kernel density estimate"
    assert window["p_data"]["n_points"] == 400
    assert window["p_data"] == headless["p_data"]
