"""Config: keys, types, ranges, and the messages that name what is accepted."""

import math

import pytest

from ganviz.core import budget
from ganviz.core.config import KEYS, Config, ConfigError, parse_assignment


def test_defaults_are_valid_and_round_trip():
    c = Config()
    assert Config.from_dict(c.to_dict()) == c
    assert set(c.to_dict()) == set(KEYS)


def test_lr_sets_both_rates_and_explicit_wins():
    assert Config.from_dict({"lr": 0.01}).lr_d == 0.01
    c = Config.from_dict({"lr": 0.01, "lr_g": 0.02})
    assert (c.lr_d, c.lr_g) == (0.01, 0.02)


@pytest.mark.parametrize(
    "text, key, value",
    [("k=5", "k", 5), ("lr=3e-4", "lr", 3e-4), ("loss=wgan-gp", "loss", "wgan-gp"),
     ("batch_size = 64", "batch_size", 64), ("seed=7", "seed", 7)],
)
def test_parse_assignment_types_values(text, key, value):
    assert parse_assignment(text) == (key, value)


@pytest.mark.parametrize(
    "values, words",
    [
        ({"k": 0}, ["k", "between 1"]),
        ({"lr_d": 0.0}, ["lr_d", "> 0"]),
        ({"lr": -1}, ["lr_d", "> 0"]),
        ({"batch_size": 0}, ["batch_size", "between 1"]),
        ({"lr_g": math.nan}, ["lr_g", "finite"]),
        ({"loss": "hinge2"}, ["loss", "minimax", "nonsaturating", "wgan-gp"]),
        ({"data": "ring9"}, ["data", "ring8", "gaussian"]),
        ({"optimizer": "lbfgs"}, ["optimizer", "sgd", "adam", "rmsprop"]),
        ({"device": "tpu"}, ["device", "auto", "cpu", "cuda"]),
        ({"k": "two"}, ["k", "integer"]),
        ({"k": 1.5}, ["k", "integer"]),
        ({"lr_d": "fast"}, ["lr_d", "number"]),
        ({"k": True}, ["k", "number"]),
        ({"colour": "red"}, ["unknown key 'colour'", "lr_d", "batch_size"]),
    ],
)
def test_bad_values_name_the_problem_and_what_is_accepted(values, words):
    with pytest.raises(ConfigError) as err:
        Config.from_dict(values)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("text", ["k", "=5", "nokey=1", "lr=abc", "k=nan"])
def test_bad_assignments_raise_config_error(text):
    with pytest.raises(ConfigError):
        key, value = parse_assignment(text)
        Config.from_dict({key: value})


def test_config_is_frozen_and_replace_validates():
    c = Config()
    with pytest.raises(AttributeError):
        c.k = 3
    assert c.replace(k=3).k == 3
    with pytest.raises(ConfigError):
        c.replace(k=-1)


def test_dim_follows_data():
    assert Config(data="bimodal").dim == 1
    assert Config(data="spiral").dim == 2


@pytest.mark.parametrize("key", ["clip", "gp_weight", "lr_d", "lr_g"])
def test_floats_must_fit_float32(key):
    assert getattr(Config.from_dict({key: 3e38}), key) == 3e38
    with pytest.raises(ConfigError) as err:
        Config.from_dict({key: 1e39})
    message = str(err.value)
    assert f"{key} 1e+39 does not fit a float32" in message and "3.4e+38" in message


def test_a_positive_rate_must_not_round_to_zero_in_float32():
    with pytest.raises(ConfigError, match="lr_g 1e-40 does not fit a float32; accepted: 1.2e-38"):
        Config.from_dict({"lr_g": 1e-40})


GB = 10**9


@pytest.mark.parametrize("values, need", [({"hidden": 8192, "layers": 16}, "51.0 GB"),
                                          ({"batch_size": 1 << 20}, "10.2 GB")])
def test_a_run_that_would_not_fit_in_memory_is_refused_with_the_estimate(values, need, monkeypatch):
    monkeypatch.setattr(budget, "physical_memory", lambda: 24 * GB)  # allows 8 GB
    with pytest.raises(ConfigError) as err:
        Config.from_dict(values)
    message = str(err.value)
    assert f"needs about {need}; this machine allows 8.0 GB" in message and "\n" not in message


def test_the_estimate_follows_the_measured_peak():
    # Measured (fast engine, CPU, adam): batch 131072 at the default width took 1.11 GB more
    # than the bare process; hidden 512 took 4.35 GB.
    base = budget.BASE_BYTES + budget.FLOAT_BYTES * 3 * budget.PROBE_SAMPLES * 128
    assert abs(budget.run_bytes(2, 2, 128, 2, 131072) - base - 1.11 * GB) < 0.15 * GB
    base = budget.BASE_BYTES + budget.FLOAT_BYTES * 3 * budget.PROBE_SAMPLES * 512
    assert abs(budget.run_bytes(2, 2, 512, 2, 131072) - base - 4.35 * GB) < 0.5 * GB
    # WGAN-GP's double backward and CUDA's larger probe cost more
    assert budget.run_bytes(2, 2, 128, 2, 256, loss="wgan-gp") > budget.run_bytes(2, 2, 128, 2, 256)
    assert budget.run_bytes(2, 2, 128, 2, 256, cuda=True) > budget.run_bytes(2, 2, 128, 2, 256)


def test_the_defaults_and_every_preset_fit_a_small_machine_easily(monkeypatch):
    from ganviz.core.presets import load_preset, preset_names

    monkeypatch.setattr(budget, "physical_memory", lambda: 4 * GB)  # allows 1.33 GB
    Config()
    for name in preset_names():
        c = load_preset(name).config
        assert budget.run_bytes(c.dim, c.z_dim, c.hidden, c.layers, c.batch_size, c.optimizer,
                                c.loss) < 1 * GB, name


def test_network_shapes_are_the_models_state_dict():
    from ganviz.core.models import make_models

    for dim, z_dim, hidden, layers in ((1, 1, 16, 1), (2, 3, 8, 3)):
        shapes = budget.network_shapes(dim, z_dim, hidden, layers)
        for net, module in zip(("G", "D"), make_models(dim, z_dim, hidden, layers)):
            assert shapes[net] == {k: tuple(v.shape) for k, v in module.state_dict().items()}
            assert budget.parameter_count(dim, z_dim, hidden, layers)[net] == sum(
                p.numel() for p in module.parameters())


def test_physical_memory_is_read_from_the_machine():
    budget.physical_memory.cache_clear()
    assert 10**8 < budget.physical_memory() < 10**14
