"""What a sweep runs: its axes, their expansion into rows, and the sweep's identity.

A sweep is a base config, axes over config keys (a grid of listed values, or
values drawn at random from a range), a number of seeds and a number of
steps. Expanding it gives rows: one config and seed each, every one
validated before anything runs. The same command always gives the same rows
in the same order (random draws come from ``sample_seed``), so a sweep can be
resumed and a row rerun alone.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ganviz.core.config import KEYS, Config, ConfigError, parse_assignment

#: Keys drawn on a log scale in the picture (positive rates and scales).
LOG_KEYS = frozenset({"lr", "lr_d", "lr_g", "clip"})
#: Keys that are not axes: the seeds are their own option.
NOT_AXES = frozenset({"seed"})
AXIS_KEYS = tuple(k for k in KEYS + ("lr",) if k not in NOT_AXES)
RANDOM_KINDS = ("loguniform", "uniform", "choice")
#: Significant digits kept of a random draw: readable in the CSV and exact when read back.
DRAW_DIGITS = 4


class SweepError(Exception):
    """A sweep that cannot run as given; the message is one line (exit status 2)."""


@dataclass(frozen=True)
class Axis:
    """One swept key: listed ``values`` (grid, choice) or a ``low``..``high`` range."""

    key: str
    kind: str  # "grid" or one of RANDOM_KINDS
    values: tuple = ()
    low: float | None = None
    high: float | None = None

    @property
    def random(self) -> bool:
        return self.kind != "grid"

    @property
    def categorical(self) -> bool:
        """Cells, not a continuous coordinate: a grid or a choice."""
        return self.kind in ("grid", "choice")

    def to_dict(self) -> dict:
        return {"key": self.key, "kind": self.kind, "values": list(self.values),
                "low": self.low, "high": self.high}


def _check_key(key: str, option: str) -> None:
    if key in NOT_AXES:
        raise SweepError(f"{option}: seeds are swept with --seeds K, not as an axis")
    if key not in AXIS_KEYS:
        raise SweepError(f"{option}: unknown key {key!r}; accepted keys: {', '.join(AXIS_KEYS)}")


def _typed(key: str, raw: str, option: str):
    try:
        return parse_assignment(f"{key}={raw}")[1]
    except ConfigError as exc:
        raise SweepError(f"{option}: {exc}") from None


def parse_grid(text: str) -> Axis:
    """``KEY=V1,V2,...`` -> a grid axis of two or more distinct typed values."""
    option = f"--grid {text}"
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"{option}: expected KEY=V1,V2,... e.g. --grid lr_d=1e-4,1e-3")
    _check_key(key, option)
    values = tuple(_typed(key, v, option) for v in raw.split(",") if v.strip())
    if len(set(values)) < 2:
        raise SweepError(f"{option}: an axis needs two or more distinct values, got "
                         f"{len(set(values))}; e.g. --grid {key}=V1,V2")
    if len(set(values)) != len(values):
        raise SweepError(f"{option}: a value is listed twice; list each once")
    return Axis(key, "grid", values)


def parse_random(text: str) -> Axis:
    """``KEY=loguniform:A:B``, ``KEY=uniform:A:B`` or ``KEY=choice:a,b,...`` -> a random axis."""
    option = f"--random {text}"
    accepted = "loguniform:A:B, uniform:A:B or choice:a,b,..."
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"{option}: expected KEY={accepted}")
    _check_key(key, option)
    kind, _, rest = raw.strip().partition(":")
    if kind == "choice":
        values = tuple(_typed(key, v, option) for v in rest.split(",") if v.strip())
        if len(set(values)) < 2 or len(set(values)) != len(values):
            raise SweepError(f"{option}: choice needs two or more distinct values, e.g. "
                             f"{key}=choice:a,b")
        return Axis(key, "choice", values)
    if kind not in ("loguniform", "uniform"):
        raise SweepError(f"{option}: unknown distribution {kind!r}; accepted: {accepted}")
    parts = rest.split(":")
    if len(parts) != 2:
        raise SweepError(f"{option}: expected {kind}:A:B with A < B")
    low, high = (_typed(key, p, option) for p in parts)
    if isinstance(low, str):
        raise SweepError(f"{option}: {key} takes names; use {key}=choice:a,b,...")
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise SweepError(f"{option}: expected {kind}:A:B with A < B, got {low}:{high}")
    if kind == "loguniform" and low <= 0:
        raise SweepError(f"{option}: loguniform needs 0 < A < B, got {low}:{high}")
    return Axis(key, kind, low=low, high=high)


def draw(axis: Axis, rng: np.random.Generator):
    """One value of a random axis, typed for its key (ints rounded, floats to DRAW_DIGITS)."""
    if axis.kind == "choice":
        return axis.values[int(rng.integers(len(axis.values)))]
    integer = isinstance(axis.low, int) and isinstance(axis.high, int)
    if axis.kind == "loguniform":
        x = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    else:
        x = rng.uniform(axis.low, axis.high)
    if integer:
        return int(min(max(round(x), axis.low), axis.high))
    return float(f"{x:.{DRAW_DIGITS}g}")


@dataclass(frozen=True)
class Row:
    """One run of the sweep: the axes' values, the seed, and the full validated config."""

    point: tuple  # ((key, value), ...) in axis order
    seed: int
    config: Config

    def key(self) -> tuple[str, ...]:
        """The row's identity as the texts results.csv holds."""
        return tuple(value_text(v) for _, v in self.point) + (str(self.seed),)


def value_text(value) -> str:
    """A value as results.csv writes it: floats as the shortest text that reads back exactly."""
    if isinstance(value, float):
        return repr(value)
    return str(value)


@dataclass(frozen=True)
class Sweep:
    """A whole sweep: base config, axes, random samples, seeds, steps."""

    base: Config
    axes: tuple[Axis, ...]
    seeds: int = 1
    steps: int = 1000
    every: int = 100
    samples: int = 0
    sample_seed: int = 0
    preset: str = ""
    rows: tuple[Row, ...] = field(default=(), compare=False)

    def identity(self) -> dict:
        """What makes two commands the same sweep (the picture's metric and the backend do not)."""
        return {"base": self.base.to_dict(), "axes": [a.to_dict() for a in self.axes],
                "seeds": self.seeds, "steps": self.steps, "every": self.every,
                "samples": self.samples, "sample_seed": self.sample_seed}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.axes)


def points(axes: tuple[Axis, ...], samples: int, sample_seed: int) -> list[tuple]:
    """Every point of the sweep: the grid's product (first axis outermost) times the samples.

    The random axes are drawn ``samples`` times from ``numpy.random.default_rng(sample_seed)``,
    once, and the same draws go with every grid point, so grid cells are comparable.
    """
    grid = [a for a in axes if not a.random]
    rand = [a for a in axes if a.random]
    if rand and samples < 1:
        raise SweepError("--random needs --samples N (N >= 1): how many points to draw")
    if samples and not rand:
        raise SweepError("--samples N draws the --random axes; give one, e.g. "
                         "--random lr_d=loguniform:1e-5:1e-2")
    rng = np.random.default_rng(sample_seed)
    draws = [{a.key: draw(a, rng) for a in rand} for _ in range(samples)] or [{}]
    out = []
    for combo in itertools.product(*(a.values for a in grid)):
        fixed = dict(zip((a.key for a in grid), combo))
        for d in draws:
            values = {**fixed, **d}
            out.append(tuple((a.key, values[a.key]) for a in axes))
    return out


def expand(sweep: Sweep) -> Sweep:
    """The sweep with its rows: every point times every seed, each config validated.

    Raises SweepError naming the first point whose config is refused, before anything runs.
    """
    keys = sweep.keys
    if not keys:
        raise SweepError("nothing to sweep: give --grid KEY=V1,V2,... or --random KEY=... "
                         "with --samples N")
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup or ("lr" in keys and ({"lr_d", "lr_g"} & set(keys))):
        raise SweepError(f"a key is swept twice ({', '.join(dup) or 'lr with lr_d/lr_g'}); "
                         "give each key one axis")
    if sweep.seeds < 1:
        raise SweepError(f"--seeds must be a positive integer, got {sweep.seeds}")
    if sweep.steps < 1:
        raise SweepError(f"--steps must be a positive integer, got {sweep.steps}")
    if sweep.every < 1:
        raise SweepError(f"--every must be a positive integer, got {sweep.every}")
    if sweep.base.seed + sweep.seeds - 1 > 2**63 - 1:
        raise SweepError(f"seeds {sweep.base.seed}..{sweep.base.seed + sweep.seeds - 1} "
                         "pass the largest seed, 2**63-1")
    rows = []
    for point in points(sweep.axes, sweep.samples, sweep.sample_seed):
        try:
            config = Config.from_dict(dict(point), base=sweep.base)
        except ConfigError as exc:
            where = ", ".join(f"{k}={value_text(v)}" for k, v in point)
            raise SweepError(f"the point {where} is not a valid config: {exc}") from None
        for s in range(sweep.seeds):
            rows.append(Row(point, sweep.base.seed + s, config.replace(seed=sweep.base.seed + s)))
    return dataclasses.replace(sweep, rows=tuple(rows))
