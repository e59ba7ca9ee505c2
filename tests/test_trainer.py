"""The training step: k counting, who updates what, determinism, hot changes."""

import numpy as np
import pytest
import torch

from ganviz.core.config import Config, ConfigError
from ganviz.core.trainer import STEP_STATS, Engine, ReferenceEngine, resolve_device, set_threads

SMALL = dict(hidden=16, batch_size=32)
ENGINES = pytest.mark.parametrize("engine_class", [Engine, ReferenceEngine])


def optimizer_name(opt):
    """The fast engine's flat optimizers carry their name; torch's are known by class."""
    if isinstance(opt, torch.optim.Optimizer):
        return {torch.optim.SGD: "sgd", torch.optim.Adam: "adam", torch.optim.RMSprop: "rmsprop"}[type(opt)]
    return opt.name


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def same(a, b):
    return all(torch.equal(x, y) for x, y in zip(a, b))


@ENGINES
@pytest.mark.parametrize("k", [1, 3, 5])
def test_exactly_k_d_updates_per_g_update(k, engine_class):
    e = engine_class(Config(data="ring8", k=k, **SMALL))
    calls = {"d": 0, "g": 0}
    for opt, key in ((e.opt_d, "d"), (e.opt_g, "g")):
        step = opt.step

        def counted(*a, _step=step, _key=key, **kw):
            calls[_key] += 1
            return _step(*a, **kw)

        opt.step = counted
    for _ in range(4):
        e.train_step()
    assert calls == {"d": 4 * k, "g": 4}
    assert (e.d_updates, e.g_updates, e.step) == (4 * k, 4, 4)


@ENGINES
@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "wgan", "wgan-gp"])
def test_d_step_changes_only_d_and_g_step_only_g(loss, engine_class):
    e = engine_class(Config(data="bimodal", loss=loss, **SMALL))
    g0, d0 = params(e.G), params(e.D)
    e.d_step()
    g1, d1 = params(e.G), params(e.D)
    assert same(g0, g1) and not same(d0, d1)
    e.g_step()
    assert not same(g1, params(e.G)) and same(d1, params(e.D))


@ENGINES
@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_frozen_network_is_evaluated_never_updated(loss, engine_class):
    e = engine_class(Config(data="ring8", loss=loss, k=3, **SMALL))
    g0, d0 = params(e.G), params(e.D)
    e.freeze(d=True)
    for _ in range(3):
        e.train_step()
    g1 = params(e.G)
    assert same(d0, params(e.D)) and not same(g0, g1)
    assert (e.step, e.d_updates, e.g_updates) == (3, 0, 3)
    e.freeze(d=False, g=True)
    e.train_step()
    e.d_step()
    e.g_step()
    assert same(g1, params(e.G)) and not same(d0, params(e.D))
    assert (e.step, e.d_updates, e.g_updates) == (4, 4, 3)
    stats = e.drain()
    # The frozen network's loss and gradient norm are still measured.
    assert np.all(np.isfinite(stats["loss_d"])) and np.all(stats["grad_norm_d"] > 0)
    assert np.all(stats["grad_norm_g"] > 0)


def test_freeze_gives_the_same_numbers_in_both_engines():
    c = Config(data="ring8", k=2, **SMALL)
    runs = []
    for cls in (Engine, ReferenceEngine):
        e = cls(c)
        for frozen in ({"d": True}, {"d": False, "g": True}, {"g": False}):
            e.freeze(**frozen)
            for _ in range(3):
                e.train_step()
        runs.append(e.drain())
    for name in STEP_STATS:
        np.testing.assert_allclose(runs[0][name], runs[1][name], rtol=1e-3, atol=1e-5)


@ENGINES
def test_wgan_clips_critic_weights(engine_class):
    e = engine_class(Config(data="ring8", loss="wgan", clip=0.005, lr_d=0.1, **SMALL))
    e.d_step()
    assert max(p.abs().max().item() for p in e.D.parameters()) <= 0.005


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp"])
def test_same_seed_same_numbers_other_seed_others(loss):
    def run(seed):
        e = Engine(Config(data="ring8", loss=loss, seed=seed, k=2, **SMALL))
        for _ in range(20):
            e.train_step()
        return e.drain()

    a, b, c = run(1), run(1), run(2)
    for name in STEP_STATS:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["loss_d"], c["loss_d"])


def test_drain_returns_each_step_once():
    e = Engine(Config(data="gaussian", **SMALL))
    for _ in range(3):
        e.train_step()
    h = e.drain()
    assert list(h["step"]) == [1, 2, 3] and set(STEP_STATS) <= set(h)
    assert h["d_real"].min() > 0 and h["d_real"].max() < 1  # probabilities
    e.train_step()
    assert list(e.drain()["step"]) == [4]
    assert len(e.drain()["step"]) == 0


@ENGINES
def test_hot_changes_apply_to_the_optimizers(engine_class):
    e = engine_class(Config(data="gaussian", **SMALL))
    e.apply({"lr_d": 0.01, "lr_g": 0.02, "k": 3, "loss": "wgan"})
    assert e.opt_d.param_groups[0]["lr"] == 0.01 and e.opt_g.param_groups[0]["lr"] == 0.02
    assert e.config.k == 3 and e.config.loss == "wgan"
    e.apply({"optimizer": "sgd", "lr": 0.5})
    assert optimizer_name(e.opt_d) == optimizer_name(e.opt_g) == "sgd"
    assert e.opt_d.param_groups[0]["lr"] == e.opt_g.param_groups[0]["lr"] == 0.5
    with pytest.raises(ConfigError, match="data"):
        e.apply({"data": "ring8"})
    with pytest.raises(ConfigError, match="k"):
        e.apply({"k": 0})
    assert e.config.k == 3  # a rejected change leaves the run as it was


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="auto, cpu"):
            resolve_device("cuda")


@pytest.fixture
def torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_one_torch_thread_per_run_unless_asked(monkeypatch, torch_threads):
    monkeypatch.delenv("GANVIZ_THREADS", raising=False)
    torch.set_num_threads(2)
    assert set_threads() == 1 and torch.get_num_threads() == 1
    monkeypatch.setenv("GANVIZ_THREADS", "2")
    assert set_threads() == 2 and torch.get_num_threads() == 2
    monkeypatch.setenv("GANVIZ_THREADS", "two")  # not a number: the policy's one thread
    assert set_threads() == 1


def test_state_round_trip_restores_weights():
    e = Engine(Config(data="ring8", **SMALL))
    saved = e.state()
    g0 = params(e.G)
    for _ in range(5):
        e.train_step()
    assert not same(g0, params(e.G))
    e.load_state(saved)
    assert same(g0, params(e.G))


def test_learns_a_1d_gaussian():
    """Algorithm 1 moves p_g onto N(2, 0.5^2) (a short run of the gaussian-1d preset)."""
    torch.set_num_threads(1)
    e = Engine(Config(data="gaussian", z_dim=1, hidden=32, lr_d=1e-3, lr_g=1e-3, seed=0))
    for _ in range(1500):
        e.train_step()
    with torch.no_grad():
        x = e.G(e.sample_z(10_000))
    assert x.mean().item() == pytest.approx(2.0, abs=0.25)
    assert x.std().item() == pytest.approx(0.5, abs=0.15)


# --- states as numpy, validated before they are loaded ---------------------------


def _full_state(e):
    for _ in range(3):
        e.train_step()
    e.freeze(d=True)
    return e.state(full=True)


def test_a_full_state_is_numpy_and_resumes_exactly():
    c = Config(data="ring8", optimizer="adam", **SMALL)
    e = Engine(c)
    state = _full_state(e)

    def leaves(x):
        if isinstance(x, dict):
            for v in x.values():
                yield from leaves(v)
        else:
            yield x

    assert not any(isinstance(v, torch.Tensor) for v in leaves(state))
    assert state["rng"]["state"].dtype == np.uint8 and state["rng"]["device"] == "cpu"
    assert state["optim"]["D"]["buffers"]["exp_avg"].shape == (sum(p.numel() for p in e.D.parameters()),)
    assert state["counters"] == {"step": 3, "d_updates": 3, "g_updates": 3}
    assert state["frozen"] == ["d"]
    resumed = Engine(c.replace(seed=11))
    resumed.load_state(state)
    for _ in range(4):
        e.train_step()
        resumed.train_step()
    a, b = e.drain(), resumed.drain()
    for name in STEP_STATS:
        np.testing.assert_array_equal(a[name][-4:], b[name])
    # torch tensors are accepted too
    resumed.load_state({net: {k: torch.from_numpy(v) for k, v in state[net].items()} for net in ("G", "D")})


def _broken(state, path, value):
    """A deep copy of ``state`` with the part at ``path`` replaced (or removed for None)."""
    import copy

    out = copy.deepcopy(state)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


@pytest.mark.parametrize("path,value,message", [
    (("G", "head.bias"), None, "G weights: missing head.bias"),
    (("D", "extra"), np.zeros(3, np.float32), "D weights: unexpected extra"),
    (("D", "head.weight"), np.zeros((2, 2), np.float32), r"D weight head.weight has shape \(2, 2\)"),
    (("D", "head.bias"), np.zeros(1, np.int64), "floating-point"),
    (("optim", "D", "buffers", "exp_avg"), None, "D adam optimizer buffers: missing exp_avg"),
    (("optim", "G", "buffers", "exp_avg_sq"), np.zeros(5, np.float32), r"expected \("),
    (("optim", "name"), "adagrad", "expected one of sgd, adam, rmsprop"),
    (("optim", "G", "steps"), -1, r"G optimizer steps must be in \[0, 2\*\*63\)"),
    (("rng", "state"), np.zeros(100, np.uint8), "not a valid cpu generator state"),
    (("rng", "state"), np.zeros(5056, np.uint8), "not a valid cpu generator state"),
    (("rng", "state"), np.zeros(5056, np.float32), "uint8"),
    (("rng", "device"), "tpu", "expected cpu or cuda"),
    (("counters", "step"), 2**63, r"counter step must be in \[0, 2\*\*63\)"),
    (("counters", "g_updates"), None, "counter g_updates must be an integer"),
    (("counters", "d_updates"), 1.5, "counter d_updates must be an integer"),
    (("frozen",), ["x"], "frozen must list"),
])
def test_load_state_rejects_each_broken_part_and_changes_nothing(path, value, message):
    c = Config(data="ring8", optimizer="adam", **SMALL)
    good = _full_state(Engine(c))
    e = Engine(c)
    e.train_step()
    before = e.state(full=True)
    with pytest.raises(ValueError, match=message):
        e.load_state(_broken(good, path, value))
    after = e.state(full=True)
    for net in ("G", "D"):
        for k in before[net]:
            np.testing.assert_array_equal(before[net][k], after[net][k])
    for net in ("G", "D"):
        for k, v in before["optim"][net]["buffers"].items():
            np.testing.assert_array_equal(v, after["optim"][net]["buffers"][k])
    np.testing.assert_array_equal(before["rng"]["state"], after["rng"]["state"])
    assert (before["counters"], before["frozen"]) == (after["counters"], after["frozen"])


def test_another_optimizers_buffers_or_devices_stream_start_afresh():
    c = Config(data="ring8", optimizer="adam", **SMALL)
    state = _full_state(Engine(c))
    state["rng"]["device"] = "cuda"  # valid layout elsewhere, not used here
    e = Engine(c.replace(optimizer="sgd"))
    rng_before = e.rng.get_state().clone()
    e.load_state(state)
    assert e.opt_d.steps == 0 and torch.equal(e.rng.get_state(), rng_before)
    assert e.step == 3
