"""Session files: round trip, and clear rejection of broken or newer files."""

import json
import os
import stat

import numpy as np
import pytest
import torch

from ganviz.core.config import OPTIMIZER_BUFFERS, Config
from ganviz.core.trainer import Engine
from ganviz.core.session import Session, SessionError, load_session, save_session

CFG = Config(data="ring8", hidden=16, batch_size=32, seed=3, k=2)


def trained(steps=10):
    e = Engine(CFG)
    for _ in range(steps):
        e.train_step()
    return e


def test_round_trip_config_weights_history(tmp_path):
    e = trained()
    hist = e.drain()
    path = tmp_path / "s.json"
    save_session(path, Session(CFG, step=e.step, state=e.state(), history=hist, preset="ring8"))
    s = load_session(path)
    assert s.config == CFG and s.step == 10 and s.preset == "ring8"
    for net in ("G", "D"):
        for k, v in e.state()[net].items():
            np.testing.assert_array_equal(s.state[net][k], v)
            assert s.state[net][k].dtype == np.float32
    np.testing.assert_allclose(s.history["loss_d"], hist["loss_d"])


def test_loaded_weights_give_the_same_next_losses(tmp_path):
    path = tmp_path / "s.json"
    save_session(path, Session(CFG, state=trained().state()))

    def next_losses():
        s = load_session(path)
        e = Engine(s.config)
        e.load_state(s.state)
        for _ in range(5):
            e.train_step()
        return e.drain()

    a, b = next_losses(), next_losses()
    np.testing.assert_array_equal(a["loss_d"], b["loss_d"])
    # and they continue from the saved weights, not from a fresh start
    fresh = Engine(CFG)
    for _ in range(5):
        fresh.train_step()
    assert not np.array_equal(a["loss_g"], fresh.drain()["loss_g"])


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_full_session_resumes_exactly(tmp_path, optimizer, loss):
    """Save mid-run, open in a new engine: the next losses are those of the run
    that went on without stopping, bit for bit (optimizer state, random stream)."""
    config = CFG.replace(optimizer=optimizer, loss=loss)
    e = Engine(config)
    for _ in range(15):
        e.train_step()
    e.freeze(g=True)
    path = tmp_path / "s.json"
    save_session(path, Session(config, step=e.step, state=e.state(full=True), history=e.drain()))
    s = load_session(path)
    resumed = Engine(s.config)
    resumed.load_state(s.state)
    assert (resumed.step, resumed.d_updates, resumed.g_updates) == (15, 30, 15)
    assert resumed.frozen == {"g"}
    for engine in (e, resumed):
        engine.freeze(g=False)
        for _ in range(8):
            engine.train_step()
    a, b = e.drain(), resumed.drain()
    for name in ("step", "loss_d", "loss_g", "grad_norm_g"):
        np.testing.assert_array_equal(a[name], b[name])


def test_version_1_file_loads_with_fresh_optimizers(tmp_path):
    path = tmp_path / "v1.json"
    save_session(path, Session(CFG, state=trained(3).state()))
    doc = json.loads(path.read_text())
    doc["version"] = 1
    path.write_text(json.dumps(doc))
    s = load_session(path)
    assert set(s.state) == {"G", "D"}


def test_config_only_session(tmp_path):
    path = tmp_path / "c.json"
    save_session(path, Session(CFG))
    s = load_session(path)
    assert s.config == CFG and s.state is None and s.history == {}


def write(tmp_path, doc):
    path = tmp_path / "bad.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def good_doc(tmp_path):
    path = tmp_path / "good.json"
    save_session(path, Session(CFG, step=1, state=trained(1).state(full=True)))
    return json.loads(path.read_text())


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda d: d.update(version=3), ["version 3", "newer ganviz", "version 2"]),
        (lambda d: d.pop("format"), ["not a ganviz session"]),
        (lambda d: d.update(version="1"), ["version"]),
        (lambda d: d["config"].update(k=0), ["k", "between 1"]),
        (lambda d: d["config"].update(loss="l1"), ["loss", "wgan-gp"]),
        (lambda d: d.pop("config"), ["missing 'config'"]),
        (lambda d: d.update(step=-1), ["step"]),
        (lambda d: d.update(history={"loss_d": [1, 2], "loss_g": [1]}), ["lengths"]),
        (lambda d: d.update(history={"loss_d": "abc"}), ["loss_d"]),
        (lambda d: d["weights"]["G"].popitem(), ["weights of G", "do not fit"]),
        (lambda d: d["config"].update(hidden=17), ["do not fit", "hidden=17"]),
        (lambda d: next(iter(d["weights"]["D"].values())).update(data="@@@"), ["base64"]),
        (lambda d: next(iter(d["weights"]["D"].values())).update(shape=[3, 3]), ["holds", "needs 9"]),
        (lambda d: d["weights"].pop("D"), ["missing 'D'"]),
        (lambda d: d["optimizer"].update(name="sgd"), ["optimizer state is for 'sgd'", "'adam'"]),
        (lambda d: d["optimizer"]["G"]["buffers"]["exp_avg"].update(shape=[1]), ["holds"]),
        (lambda d: d["optimizer"]["D"].update(steps=-3), ["optimizer D steps"]),
        (lambda d: d["rng"].update(state="!!"), ["rng state"]),
        (lambda d: d["counters"].pop("g_updates"), ["counters.g_updates"]),
        (lambda d: d.update(frozen=["x"]), ["frozen", "'d'"]),
    ],
)
def test_broken_sessions_are_rejected_with_one_clear_message(tmp_path, change, words):
    doc = good_doc(tmp_path)
    change(doc)
    with pytest.raises(SessionError) as err:
        load_session(write(tmp_path, doc))
    message = str(err.value)
    assert "bad.json" in message and "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", "\u00ff\u00fe"])
def test_non_json_is_rejected(tmp_path, text):
    with pytest.raises(SessionError, match="bad.json"):
        load_session(write(tmp_path, text))


def test_missing_file(tmp_path):
    with pytest.raises(SessionError, match="cannot read"):
        load_session(tmp_path / "nope.json")


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    save_session(path, Session(CFG))
    before = path.read_text()

    def half_written(doc, f):
        f.write('{"format": ')
        raise OSError("disk full")

    monkeypatch.setattr("ganviz.core.session.json.dump", half_written)
    with pytest.raises(OSError):
        save_session(path, Session(CFG, step=5))
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


def test_unmeasured_values_round_trip_as_null(tmp_path):
    path = tmp_path / "m.json"
    measured = {"step": np.array([100.0, 200.0]), "js": np.array([0.3, np.nan])}
    save_session(path, Session(CFG, measured=measured))
    assert json.loads(path.read_text())["measured"]["js"] == [0.3, None]  # valid JSON, no NaN
    back = load_session(path).measured
    np.testing.assert_array_equal(back["js"], measured["js"])
    np.testing.assert_array_equal(back["step"], measured["step"])


# --- corrupted files: every one refused with one line, before anything is used ----------


def _b64(a) -> str:
    import base64

    return base64.b64encode(np.asarray(a).tobytes()).decode("ascii")


def _set_buffer(net, name, array):
    def change(d):
        d["optimizer"][net]["buffers"][name] = {"shape": list(array.shape),
                                                "data": _b64(array.astype("<f4"))}
    return change


def _set_weight(net, name, array):
    def change(d):
        d["weights"][net][name] = {"shape": list(array.shape), "data": _b64(array.astype("<f4"))}
    return change


def _text(make):
    """A change that replaces the whole file by ``make(good_text)`` (str or bytes)."""
    return lambda d: make


def _bad_header_rng(d):
    import base64

    raw = bytearray(base64.b64decode(d["rng"]["state"]))
    raw[8:12] = (5000).to_bytes(4, "little")  # mt19937 position past its 624 words
    d["rng"]["state"] = base64.b64encode(bytes(raw)).decode("ascii")


CORRUPTIONS = {
    "rng of the wrong length": (lambda d: d["rng"].update(state=_b64(np.ones(100, np.uint8))),
                                ["rng state holds 100 bytes", "5056"]),
    "rng all zeros": (lambda d: d["rng"].update(state=_b64(np.zeros(5056, np.uint8))),
                      ["rng state is all zeros"]),
    "rng header torch refuses": (_bad_header_rng, ["not a valid mt19937 state"]),
    "rng of an unknown device": (lambda d: d["rng"].update(device="tpu"), ["rng device", "'cpu'"]),
    "rng not base64": (lambda d: d["rng"].update(state="@@"), ["rng state is not valid base64"]),
    "missing optimizer buffer": (lambda d: d["optimizer"]["D"]["buffers"].pop("exp_avg"),
                                 ["optimizer buffer D.exp_avg is missing", "exp_avg, exp_avg_sq"]),
    "unknown optimizer buffer": (_set_buffer("G", "velocity", np.zeros(3)),
                                 ["optimizer buffer G.velocity is not one of adam's"]),
    "wrong buffer shape": (_set_buffer("G", "exp_avg_sq", np.zeros(7)),
                           ["optimizer buffer G.exp_avg_sq has shape (7,)", "parameters"]),
    "non-finite buffer": (_set_buffer("G", "exp_avg", np.full(418, np.inf)),
                          ["optimizer.G.exp_avg is not finite"]),
    "optimizer steps of 2**63": (lambda d: d["optimizer"]["G"].update(steps=2**63),
                                 ["optimizer G steps", "2**63 - 1"]),
    "step of 2**63": (lambda d: d.update(step=2**63), ["step must be an integer", "2**63 - 1"]),
    "counter of 2**63": (lambda d: d["counters"].update(d_updates=2**63), ["counters.d_updates"]),
    "step a float": (lambda d: d.update(step=1.5), ["step must be an integer"]),
    "version 0": (lambda d: d.update(version=0), ["version 0", "accepted: 1 to 2"]),
    "version -1": (lambda d: d.update(version=-1), ["version -1", "accepted: 1 to 2"]),
    "step disagrees with counters": (lambda d: d.update(step=999_999),
                                     ["step 999999 disagrees with counters.step 1"]),
    "frozen not names": (lambda d: d.update(frozen=[["d"]]), ["frozen must list"]),
    "non-finite weight": (_set_weight("D", "head.bias", np.array([np.nan])),
                          ["weight D.head.bias is not finite"]),
    "wrong weight shape": (_set_weight("G", "hidden.0.weight", np.zeros((16, 3))),
                           ["weights of G do not fit", "hidden.0.weight has shape (16, 3), needs (16, 2)"]),
    "unknown weight": (_set_weight("D", "extra.bias", np.zeros(2)),
                       ["weights of D do not fit", "extra.bias is not one of its weights"]),
    "shape not sizes": (lambda d: d["weights"]["G"]["head.bias"].update(shape=[-2]),
                        ["weight G.head.bias has shape [-2]"]),
    "unknown config key": (lambda d: d["config"].update(colour="red"), ["unknown key 'colour'"]),
    "clip beyond float32": (lambda d: d["config"].update(clip=1e39), ["clip", "float32"]),
    "deep nesting": (_text("[" * 10_000 + "]" * 10_000), ["nested too deeply"]),
    "truncated": (lambda d: json.dumps(d)[: len(json.dumps(d)) // 2], ["is not valid JSON"]),
    "not UTF-8": (_text(b"\xff\xfe{\x00}"), ["is not UTF-8 text"]),
    "empty": (_text(""), ["is not valid JSON"]),
    "a JSON list": (_text("[1, 2]"), ["not a ganviz session file"]),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_corrupted_session_is_refused_with_one_line_naming_the_problem(tmp_path, name):
    change, words = CORRUPTIONS[name]
    doc = good_doc(tmp_path)
    out = change(doc)
    path = tmp_path / "bad.json"
    if isinstance(out, bytes):
        path.write_bytes(out)
    else:
        path.write_text(out if isinstance(out, str) else json.dumps(doc))
    with pytest.raises(SessionError) as err:
        load_session(path)
    message = str(err.value)
    assert "bad.json" in message and "\n" not in message
    assert "Error" not in message and "Traceback" not in message  # no Python class names
    for word in words:
        assert word in message, message


def test_the_good_document_of_the_table_loads_into_an_engine(tmp_path):
    """The table's corruptions start from a file that is accepted and trains."""
    path = write(tmp_path, good_doc(tmp_path))
    s = load_session(path)
    assert s.state["rng"]["state"].dtype == np.uint8 and s.state["rng"]["state"].size == 5056
    assert set(s.state["optim"]["G"]["buffers"]) == {"exp_avg", "exp_avg_sq"}
    e = Engine(s.config)
    e.load_state(s.state)
    e.train_step()
    assert np.isfinite(e.drain()["loss_d"]).all()


def test_the_rng_length_is_torchs(tmp_path):
    from ganviz.core.session import RNG_BYTES

    assert RNG_BYTES["cpu"] == torch.Generator().get_state().numel()


def test_an_sgd_session_holds_its_one_buffer(tmp_path):
    config = CFG.replace(optimizer="sgd")
    e = Engine(config)
    e.train_step()
    path = tmp_path / "s.json"
    save_session(path, Session(config, step=1, state=e.state(full=True)))
    buffers = load_session(path).state["optim"]["G"]["buffers"]
    assert list(buffers) == list(OPTIMIZER_BUFFERS["sgd"])


def test_a_folder_and_a_huge_file_are_refused_before_reading(tmp_path, monkeypatch):
    with pytest.raises(SessionError, match="is a folder"):
        load_session(tmp_path)
    path = write(tmp_path, good_doc(tmp_path))
    monkeypatch.setattr("ganviz.core.presets.MAX_JSON_BYTES", 1000)
    with pytest.raises(SessionError, match="the largest accepted is 0 MB"):
        load_session(path)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_is_one_line(tmp_path):
    path = write(tmp_path, good_doc(tmp_path))
    os.chmod(path, 0)
    with pytest.raises(SessionError, match="cannot read session file .*Permission denied"):
        load_session(path)


def test_saving_keeps_the_mode_and_refuses_a_read_only_file(tmp_path):
    from ganviz.core.files import FileError

    path = tmp_path / "lesson.json"
    save_session(path, Session(CFG))
    os.chmod(path, 0o664)
    save_session(path, Session(CFG, step=3))
    assert stat.S_IMODE(path.stat().st_mode) == 0o664 and load_session(path).step == 3
    os.chmod(path, 0o444)
    with pytest.raises(FileError, match="read-only"):
        save_session(path, Session(CFG, step=4))
    assert load_session(path).step == 3


def test_opening_a_session_imports_no_torch(tmp_path):
    """The window's process reads sessions; torch stays out of it."""
    import subprocess
    import sys

    path = tmp_path / "s.json"
    save_session(path, Session(CFG, step=1, state=trained(1).state(full=True)))
    code = ("import sys; from ganviz.core.session import load_session, save_session; "
            f"s = load_session({str(path)!r}); save_session({str(tmp_path / 'b.json')!r}, s); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert load_session(tmp_path / "b.json").state["counters"]["step"] == 1


def test_a_comparison_section_round_trips_bit_for_bit_and_refuses_a_bad_member(tmp_path):
    """Each member's weights, optimizer buffers, stream, counters and history come back
    exactly; a member whose state does not fit its own config is one SessionError."""
    from ganviz.core.session import save_comparison
    from ganviz.core.trainer.batched import BatchedEngine
    from ganviz.core.variants import parse_compare

    base = Config.from_dict({"data": "ring8", "hidden": 8, "batch_size": 32})
    key, configs = parse_compare("optimizer=adam,rmsprop", base)
    batch = BatchedEngine(configs)
    for _ in range(5):
        for m in batch.members:
            m.train_step()
    states = [m.state(full=True) for m in batch.members]
    columns = [({"step": np.arange(1, 6.0), "loss_d": np.linspace(0, 1, 5)},
                {"step": np.array([0.0, 5.0]), "js": np.array([0.6, np.nan])}) for _ in configs]
    path = tmp_path / "c.json"
    save_comparison(path, base, key, ["adam", "rmsprop"], 5, states, columns, preset="ring8")
    back = load_session(path)
    assert back.state is None and back.step == 5 and back.preset == "ring8"
    c = back.comparison
    assert c["key"] == "optimizer" and c["values"] == ["adam", "rmsprop"]
    for saved, got, (steps, measured) in zip(states, c["members"], columns):
        for net in ("G", "D"):
            for name, w in saved[net].items():
                assert np.array_equal(w, got["state"][net][name]) and got["state"][net][name].dtype == w.dtype
            for name, buf in saved["optim"][net]["buffers"].items():
                assert np.array_equal(buf, got["state"]["optim"][net]["buffers"][name])
        assert np.array_equal(saved["rng"]["state"], got["state"]["rng"]["state"])
        assert got["state"]["counters"] == saved["counters"]
        assert np.array_equal(got["history"]["loss_d"], steps["loss_d"])
        assert np.array_equal(got["measured"]["js"], measured["js"], equal_nan=True)
    doc = json.loads(path.read_text())
    doc["comparison"]["members"][1]["weights"]["D"] = doc["comparison"]["members"][0]["weights"]["G"]
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError) as err:
        load_session(path)
    text = str(err.value)
    assert "comparison member 1 (optimizer=rmsprop)" in text and "\n" not in text
    doc["comparison"]["members"] = doc["comparison"]["members"][:1]
    path.write_text(json.dumps(doc))
    with pytest.raises(SessionError, match="1 members for 2 values"):
        load_session(path)


def test_per_mode_counts_survive_a_session_file(tmp_path):
    """The "Modes over time" raster's rows are saved with the history and read back."""
    from types import SimpleNamespace

    from ganviz.core.history import History

    h = History()
    for step, counts in ((5, [3, 0, 9]), (10, [4, 4, 4]), (20, [0, 12, 0])):
        h.add(SimpleNamespace(run_id=0, history={}, fields_step=step, mode_counts=np.array(counts),
                              metrics={"js": 0.5, "modes_captured": 2, "modes_total": 3}))
    steps, measured = h.columns()
    path = tmp_path / "modes.json"
    save_session(path, Session(CFG, step=20, history=steps, measured=measured))
    s = load_session(path)
    again = History()
    again.load(s.history, s.measured)
    assert [step for step, _ in again.modes] == [5.0, 10.0, 20.0]
    assert [list(c) for _, c in again.modes] == [[3, 0, 9], [4, 4, 4], [0, 12, 0]]


def test_a_session_without_mode_counts_reads_as_before(tmp_path):
    from ganviz.core.history import History

    path = tmp_path / "old.json"
    save_session(path, Session(CFG, step=2, history={"step": np.array([1.0, 2.0]), "loss_d": np.ones(2)},
                               measured={"step": np.array([2.0]), "js": np.array([0.25])}))
    s = load_session(path)
    h = History()
    h.load(s.history, s.measured)
    assert h.modes == [] and h.measured.n == 1
