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
from ganviz.core.config import METRIC_NAMES

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


def _headless(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_headless_session_round_trip_resumes_exactly(tmp_path, capsys):
    """--save writes a session; `main.py session.json --headless` goes on from it,
    with the same numbers as a run that never stopped."""
    small = ["--set", "hidden=16", "--set", "batch_size=32"]
    path = tmp_path / "s.json"
    first = _headless(capsys, ["--headless", "--preset", "ring8", "--steps", "30", *small,
                               "--save", str(path)])
    assert first["step"] == 30 and path.exists()
    a = _headless(capsys, [str(path), "--headless", "--steps", "20"])
    b = _headless(capsys, [str(path), "--headless", "--steps", "20"])
    straight = _headless(capsys, ["--headless", "--preset", "ring8", "--steps", "50", *small])
    assert a["step"] == 50 and a["loss_d"] == b["loss_d"]
    assert a["loss_d"] == straight["loss_d"] and a["loss_g"] == straight["loss_g"]
    # Hot keys may change on top of a session; the loss applies from there.
    c = _headless(capsys, [str(path), "--headless", "--steps", "5", "--set", "loss=wgan-gp"])
    assert c["config"]["loss"] == "wgan-gp" and c["step"] == 35


@pytest.mark.parametrize("extra, words", [
    (["--preset", "ring8"], ["session file or --preset"]),
    (["--set", "hidden=64"], ["hidden", "would not fit"]),
    (["other.json"], ["one session file at a time"]),
])
def test_session_argument_errors(tmp_path, capsys, extra, words):
    path = tmp_path / "s.json"
    _headless(capsys, ["--headless", "--preset", "gaussian-1d", "--steps", "2",
                       "--set", "hidden=16", "--save", str(path)])
    err = one_line_error(capsys, [str(path), "--headless", *extra])
    assert all(w in err for w in words)


def test_broken_session_file_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text('{"format": "ganviz-session", "version": 99}')
    err = one_line_error(capsys, [str(path), "--headless"])
    assert "broken.json" in err and "newer ganviz" in err
    err = one_line_error(capsys, [str(tmp_path / "missing.json")])
    assert "missing.json" in err


def test_save_needs_headless(capsys):
    assert "--headless" in one_line_error(capsys, ["--save", "x.json"])


def test_session_file_is_told_apart_from_qt_arguments():
    from ganviz.cli import split_session

    assert split_session(["-platform", "offscreen", "lesson.JSON"]) == (
        Path("lesson.JSON"), ["-platform", "offscreen"])
    assert split_session(["-style", "fusion"]) == (None, ["-style", "fusion"])


def test_session_whose_preset_is_gone_still_opens(tmp_path, capsys):
    path = tmp_path / "s.json"
    _headless(capsys, ["--headless", "--preset", "gaussian-1d", "--steps", "3",
                       "--set", "hidden=16", "--save", str(path)])
    doc = json.loads(path.read_text())
    doc["preset"] = "renamed-since"
    path.write_text(json.dumps(doc))
    assert _headless(capsys, [str(path), "--headless", "--steps", "2"])["step"] == 5
