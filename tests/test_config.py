"""Config: keys, types, ranges, and the messages that name what is accepted."""

import math

import pytest

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
