"""Session files: round trip, and clear rejection of broken or newer files."""

import json

import numpy as np
import pytest
import torch

from ganviz.core.config import Config
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
            np.testing.assert_array_equal(np.asarray(s.state[net][k]), v)
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
    save_session(path, Session(CFG, state=trained(1).state(full=True)))
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
