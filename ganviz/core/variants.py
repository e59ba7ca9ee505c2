"""Variants of a config that differ in one key: what a comparison trains side by side."""

from __future__ import annotations

from .config import KEYS, Config, ConfigError, parse_assignment

#: Keys a comparison can vary (cold ones, like the seed, train as separate members too).
COMPARE_KEYS = ("loss", "k", "lr_d", "lr_g", "optimizer", "batch_size", "gp_weight", "clip", "seed")
#: Values a comparison takes: at least 2; at most 6 in the window (8 seeds, drawn as a
#: raster), 16 headless.
MIN_VALUES, MAX_VALUES_WINDOW, MAX_SEEDS_WINDOW, MAX_VALUES_HEADLESS = 2, 6, 8, 16


#: Keys the batched engine (core/trainer/batched.py) trains at any value, exactly as the
#: single engine does; a config with another key away from its default (an option only
#: the single engine implements, or one added to ganviz after this list) trains as a single
#: engine, in comparisons and sweeps alike. Torch-free, so that planning a sweep imports no
#: torch.
BATCHED_KEYS = frozenset({"data", "loss", "k", "lr_d", "lr_g", "optimizer", "batch_size",
                          "z_dim", "hidden", "layers", "clip", "gp_weight", "seed", "device",
                          "adam_beta1", "adam_beta2", "ttur"})


#: Keys that shape the batched engine's stacked tensors: members differing in one go to
#: separate batches.
ARCH_KEYS = ("data", "z_dim", "hidden", "layers", "batch_size", "device")


def arch_key(config: Config) -> tuple:
    """The values of :data:`ARCH_KEYS`: members with equal keys can share a batch."""
    return tuple(getattr(config, k) for k in ARCH_KEYS)


def unimplemented(config: Config) -> list[str]:
    """The keys of ``config`` away from their default that the batched engine does not implement."""
    default = Config()
    return sorted(k for k in config.__dataclass_fields__
                  if k not in BATCHED_KEYS and getattr(config, k) != getattr(default, k))


def batchable(config: Config) -> bool:
    """Whether the batched engine trains ``config`` as asked (else it trains alone)."""
    return not unimplemented(config)


def most_values(key: str, window: bool) -> int:
    """The most values a comparison of ``key`` takes in the window or headless."""
    if not window:
        return MAX_VALUES_HEADLESS
    return MAX_SEEDS_WINDOW if key == "seed" else MAX_VALUES_WINDOW


def parse_compare(text: str, base: Config, most: int = MAX_VALUES_HEADLESS) -> tuple[str, list[Config]]:
    """``KEY=V1,V2[,...]`` -> (key, one validated config per value, from ``base``).

    Parameters
    ----------
    text : str
        The ``--compare`` argument.
    base : Config
        What every variant shares.
    most : int
        The most values accepted (MAX_VALUES_HEADLESS, MAX_VALUES_WINDOW).

    Raises ConfigError with one line: no ``=``, an unknown key, a key the
    comparison does not vary (naming those it does), a value invalid for its
    key, a repeated value, or fewer than 2 or more than ``most`` values.
    """
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--compare expects KEY=V1,V2[,...], got {text!r}")
    if key not in KEYS:
        raise ConfigError(f"--compare: unknown key {key!r}; comparable keys: {', '.join(COMPARE_KEYS)}")
    if key not in COMPARE_KEYS:
        raise ConfigError(f"--compare: {key} cannot be compared; comparable keys: "
                          f"{', '.join(COMPARE_KEYS)}")
    values = [v.strip() for v in raw.split(",")]
    if not (MIN_VALUES <= len(values) <= most):
        raise ConfigError(f"--compare {key}: {len(values)} value(s) given; accepted: "
                          f"{MIN_VALUES} to {most} values")
    configs = []
    for value in values:
        try:
            configs.append(base.replace(**dict([parse_assignment(f"{key}={value}")])))
        except ConfigError as exc:
            raise ConfigError(f"--compare {key}={value}: {exc}") from None
    seen = [getattr(c, key) for c in configs]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"--compare {key}: a value is given twice ({', '.join(values)}); "
                          "each variant needs its own value")
    return key, configs


def label(key: str, config: Config) -> str:
    """The variant's name: ``key=value`` (the CSV's ``variant`` column, the JSON's ``variant``)."""
    value = getattr(config, key)
    return f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
