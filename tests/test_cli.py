"""The command line: presets, headless runs, CSV, and one-line errors for bad input."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ganviz.cli import main
from ganviz.core.config import ConfigError
from ganviz.core.presets import load_preset, preset_names, read_preset
from ganviz.core.headless import METRIC_NAMES

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"gaussian-1d", "bimodal-1d", "vanishing-gradients", "ring8", "ring8-wgan-gp", "grid25", "spiral"}


def test_required_presets_exist_load_and_explain_themselves():
    assert REQUIRED <= set(preset_names())
    for name in preset_names():
        p = load_preset(name)
        assert len(p.explanation) > 100 and p.title and p.look_for and p.next


def test_list_presets(capsys):
    assert main(["--list-presets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in REQUIRED)


def one_line_error(capsys, argv):
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and err.startswith("ganviz: error:")
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--preset", "ring9"], ["ring9", "ring8", "gaussian-1d"]),
        (["--set", "colour=red"], ["colour", "lr_d"]),
        (["--set", "loss=hinge9"], ["hinge9", "wgan-gp"]),
        (["--set", "data=ring7"], ["ring7", "ring8", "spiral"]),
        (["--set", "optimizer=lbfgs"], ["lbfgs", "adam"]),
        (["--set", "k=0"], ["k", "between 1"]),
        (["--set", "lr=0"], ["lr_d", "> 0"]),
        (["--set", "lr=-1e-3"], ["> 0"]),
        (["--set", "batch_size=0"], ["batch_size"]),
        (["--set", "lr_g=nan"], ["lr_g", "finite"]),
        (["--set", "k=abc"], ["k", "integer"]),
        (["--set", "k"], ["key=value"]),
        (["--steps", "0"], ["--steps", "positive"]),
        (["--steps", "ten"], ["--steps", "int"]),
        (["--bogus"], ["unrecognized", "--bogus"]),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(capsys, argv, words):
    err = one_line_error(capsys, ["--headless"] + argv)
    for word in words:
        assert word in err


@pytest.mark.parametrize(
    "text, words",
    [
        ("{not json", ["not valid JSON"]),
        ('{"title": "x"}', ["config"]),
        ('{"config": {"k": -2}}', ["k"]),
        ('{"config": {"loss": "l2"}}', ["loss", "minimax"]),
        ('{"config": {}, "steps": "many"}', ["steps"]),
        ('{"config": {}, "title": 3}', ["title", "text"]),
    ],
)
def test_malformed_preset_files_are_rejected(tmp_path, text, words):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_preset(path)
    for word in words:
        assert word in str(err.value)


def test_unreadable_preset_file(tmp_path):
    path = tmp_path / "binary.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_preset(path)
    with pytest.raises(ConfigError, match="cannot read"):
        read_preset(tmp_path / "missing.json")


def test_headless_run_prints_final_metrics_json_and_writes_csv(tmp_path):
    out = tmp_path / "m.csv"
    proc = subprocess.run(
        [sys.executable, "main.py", "--headless", "--preset", "ring8", "--steps", "60",
         "--every", "20", "--set", "hidden=32", "--set", "k=2", "--csv", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert result["step"] == 60 and result["config"]["k"] == 2 and result["config"]["hidden"] == 32
    for name in METRIC_NAMES:
        assert result[name] is not None, name
    assert result["modes_total"] == 8 and 0 <= result["js"] <= 0.6932
    assert "step 60/60" in proc.stderr  # progress went to stderr
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[: len(METRIC_NAMES)] == list(METRIC_NAMES)
    assert [int(r["step"]) for r in rows] == list(range(1, 61))
    measured = [int(r["step"]) for r in rows if r["js"]]
    assert measured == [20, 40, 60]
    assert float(rows[-1]["loss_d"]) == pytest.approx(result["loss_d"])


def test_headless_is_deterministic(tmp_path, capsys):
    args = ["--headless", "--preset", "bimodal-1d", "--steps", "40", "--every", "20"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    second = json.loads(capsys.readouterr().out)
    for key in METRIC_NAMES:
        assert first[key] == second[key], key
