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
