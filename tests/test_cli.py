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
    with pytest.raises(ConfigError, match="not UTF-8 text"):
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
    (tmp_path / "other.json").write_text("{}")
    extra = [str(tmp_path / a) if a == "other.json" else a for a in extra]
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


def test_session_file_is_told_apart_from_qt_arguments(tmp_path):
    from ganviz.cli import split_session

    lesson = tmp_path / "lesson"  # any name: the content says what it is
    lesson.write_text("{}")
    assert split_session(["-platform", "offscreen", str(lesson)]) == (
        lesson, ["-platform", "offscreen"])
    qt = ["-style", "fusion", "-platform=offscreen", "-reverse", "-qwindowgeometry", "640x480+0+0",
          "-qmljsdebugger=port:1234"]
    assert split_session(qt) == (None, qt)


@pytest.mark.parametrize("argv, words", [
    (["--stpes", "100", "--screenshot", "x.png"], ["unrecognized arguments: --stpes"]),
    (["-platfrom", "offscreen"], ["unrecognized arguments: -platfrom"]),
    (["-reverse=yes"], ["unrecognized arguments: -reverse=yes"]),
    (["-platform"], ["-platform needs a value"]),
    (["no-such-lesson"], ["no such file: no-such-lesson"]),
    ([".."], ["is a folder"]),
])
def test_the_windows_command_line_refuses_what_it_does_not_know(capsys, argv, words):
    """Refused before any window opens (a window here would block the test)."""
    err = one_line_error(capsys, argv)
    assert all(w in err for w in words), err


def test_a_session_saved_without_json_suffix_opens(tmp_path, capsys):
    path = tmp_path / "lesson"
    _headless(capsys, ["--headless", "--preset", "gaussian-1d", "--steps", "3",
                       "--set", "hidden=16", "--save", str(path)])
    assert _headless(capsys, [str(path), "--headless", "--steps", "2"])["step"] == 5
    other = tmp_path / "notes.txt"
    other.write_text("[1, 2]")
    assert "not a ganviz session file" in one_line_error(capsys, [str(other)])


def test_cuda_without_cuda_is_refused_before_the_window(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    err = one_line_error(capsys, ["--set", "device=cuda"])
    assert "device 'cuda'" in err and "accepted here: auto, cpu" in err
    assert "Error" not in err  # no Python class names


def test_list_presets_names_a_broken_one_and_lists_the_rest(tmp_path, capsys, monkeypatch):
    import ganviz.cli as cli
    from ganviz.core.presets import PRESET_DIR, scan_presets

    for path in PRESET_DIR.glob("*.json"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "aaa-broken.json").write_text('{"config": {"k": 0}}')
    (tmp_path / "deep.json").write_text("[" * 10_000 + "]" * 10_000)
    monkeypatch.setattr(cli, "scan_presets", lambda: scan_presets(tmp_path))
    assert main(["--list-presets"]) == 0
    out, err = capsys.readouterr()
    assert [line.split()[0] for line in out.splitlines()] == preset_names()
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "'aaa-broken' is broken" in lines[0] and "k must be" in lines[0]
    assert "'deep' is broken" in lines[1] and "nested too deeply" in lines[1]


def test_list_presets_into_a_closed_pipe_ends_quietly():
    """`ganviz --list-presets | head -2`: the reader leaves early; no "Broken pipe"."""
    proc = subprocess.Popen([sys.executable, "main.py", "--list-presets"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before anything is written
    try:
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0
    finally:
        proc.kill()
        proc.stderr.close()
    assert err == ""


def test_session_whose_preset_is_gone_still_opens(tmp_path, capsys):
    path = tmp_path / "s.json"
    _headless(capsys, ["--headless", "--preset", "gaussian-1d", "--steps", "3",
                       "--set", "hidden=16", "--save", str(path)])
    doc = json.loads(path.read_text())
    doc["preset"] = "renamed-since"
    path.write_text(json.dumps(doc))
    assert _headless(capsys, [str(path), "--headless", "--steps", "2"])["step"] == 5


@pytest.mark.parametrize("flag, target, words", [
    ("--save", "missing-dir/s.json", ["--save", "missing-dir", "does not exist"]),
    ("--csv", "/dev/full", ["--csv /dev/full is not a regular file"]),
    ("--csv", ".", ["is a folder"]),
    ("--screenshot", "missing-dir/x.png", ["--screenshot", "does not exist"]),
])
def test_output_paths_are_checked_before_the_run(tmp_path, capsys, flag, target, words):
    """Refused in a moment, before training (a window here would block the test)."""
    target = target if target.startswith("/") else str(tmp_path / target)
    argv = ["--headless"] if flag != "--screenshot" else []
    err = one_line_error(capsys, [*argv, "--preset", "ring8", "--steps", "100000", flag, target])
    assert all(w in err for w in words), err


def test_a_read_only_save_target_is_refused_and_kept(tmp_path, capsys):
    path = tmp_path / "shared.json"
    path.write_text("keep me")
    path.chmod(0o444)
    err = one_line_error(capsys, ["--headless", "--steps", "1", "--save", str(path)])
    assert "read-only" in err and path.read_text() == "keep me"


def test_headless_save_records_the_preset_and_the_history(tmp_path, capsys):
    from ganviz.core.session import load_session

    path = tmp_path / "s.json"
    _headless(capsys, ["--headless", "--preset", "ring8", "--steps", "30", "--every", "10",
                       "--set", "hidden=16", "--save", str(path)])
    saved = load_session(path)
    assert saved.preset == "ring8" and saved.step == 30
    assert list(saved.history["step"]) == list(range(1, 31))
    assert list(saved.measured["step"]) == [10, 20, 30]
    # Going on from it keeps the old history in front of the new one.
    again = tmp_path / "t.json"
    _headless(capsys, [str(path), "--headless", "--steps", "10", "--save", str(again)])
    assert list(load_session(again).history["step"]) == list(range(1, 41))


def test_headless_divergence_names_step_and_cause_and_the_csv_stops_there(tmp_path, capsys):
    out = tmp_path / "m.csv"
    code = main(["--headless", "--preset", "gaussian-1d", "--steps", "500", "--csv", str(out),
                 "--set", "lr_g=1e6", "--set", "lr_d=1e6"])
    err = capsys.readouterr().err
    assert code == 2 and "diverged at step" in err and "likely cause: lr_" in err
    step = int(err.split("diverged at step ")[1].split(":")[0].replace(",", ""))
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert int(rows[-1]["step"]) == step  # no row past the divergence
    assert sum(not _finite(r["loss_d"]) or not _finite(r["loss_g"]) for r in rows) <= 1


def _finite(text: str) -> bool:
    import math

    return text != "" and math.isfinite(float(text))


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_an_interrupted_headless_run_stops_cleanly_and_writes_what_was_asked(tmp_path, sig):
    import signal
    import time

    path, out = tmp_path / "s.json", tmp_path / "m.csv"
    proc = subprocess.Popen(
        [sys.executable, "main.py", "--headless", "--preset", "ring8", "--steps", "10000000",
         "--every", "50", "--csv", str(out), "--save", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The CSV's first measured row means training is under way.
        while not (out.exists() and out.stat().st_size > 2000):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        proc.send_signal(getattr(signal, sig))
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted at step" in stderr and "Traceback" not in stderr and stdout == ""
    from ganviz.core.session import load_session

    saved = load_session(path)
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert saved.step == int(rows[-1]["step"]) > 0
    assert f"interrupted at step {saved.step:,}" in stderr
