"""The configuration of one run: one frozen dataclass, validated on creation.

The same keys are used in preset files, session files, ``--set key=value`` on
the command line and the metrics files.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

from . import budget
from .losses import LOSS_NAMES as _LOSS_NAMES  # torch-free
from .losses import get as losses_meta

DATA_1D = ("gaussian", "bimodal", "trimodal", "uniform", "far-gaussian")
DATA_2D = ("ring8", "grid25", "spiral", "moons", "circle", "gaussian2d")
DATA_NAMES = DATA_1D + DATA_2D
LOSS_NAMES = _LOSS_NAMES  # the loss registry's names, in menu order (ganviz/core/losses.py)
OPTIMIZERS = ("sgd", "adam", "rmsprop")
#: Each optimizer's running buffers, each shaped like a network's flat parameters
#: ((n,) float32): what a full state and a session file hold for it.
OPTIMIZER_BUFFERS = {"sgd": ("buf",), "adam": ("exp_avg", "exp_avg_sq"), "rmsprop": ("square_avg",)}
#: optimizer=sgd's momentum, torch.optim.SGD(momentum=0.9): both engines and the toy games.
SGD_MOMENTUM = 0.9
DEVICES = ("auto", "cpu", "cuda")
#: Update rules: how D's and G's steps interleave (docs/dynamics-options.md defines each;
#: ganviz/core/dynamics.py on the toy games, ganviz/core/trainer/rules.py on the MLP GAN).
UPDATES = ("alternating", "simultaneous", "extragradient", "optimistic")
#: The update rules, regularisers and optimiser settings of the dynamics issue, with the
#: values that give Algorithm 1 with no regulariser (what a batched run trains).
DYNAMICS_KEYS = {"update": "alternating", "r1": 0.0, "r2": 0.0, "consensus": 0.0,
                 "instance_noise": 0.0, "instance_noise_anneal": 0, "ema": 0.0,
                 "adam_beta1": 0.5, "adam_beta2": 0.999, "spectral_norm": 0, "ttur": 0.0}

#: Keys that apply at the next step of a running run.
HOT_KEYS = frozenset(
    {"loss", "k", "lr_d", "lr_g", "optimizer", "batch_size", "clip", "gp_weight",
     "update", "r1", "r2", "consensus", "instance_noise", "instance_noise_anneal", "ema",
     "adam_beta1", "adam_beta2", "ttur"}
)
#: Keys whose change restarts the run (same seed). spectral_norm changes the function D
#: computes (W / sigma(W) from a fresh power-iteration vector): a restart, not a jump mid-run.
COLD_KEYS = frozenset({"data", "z_dim", "hidden", "layers", "seed", "device", "spectral_norm"})
#: Metric names, in the column order of every metrics file.
METRIC_NAMES = (
    "step", "loss_d", "loss_g", "js", "w1", "grad_norm_g", "grad_norm_d", "d_real", "d_fake",
    "modes_captured", "modes_total", "high_quality",
)
#: Wall seconds between snapshots at full speed: a little over 30 a second, so
#: that a 30 Hz display always has a new one to draw.
SNAPSHOT_INTERVAL = 1 / 32
#: The largest and the smallest positive normal float32: rates, the clip and the
#: penalty weight are float32 numbers in training, so they must be representable.
FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38


class ConfigError(ValueError):
    """A config key or value that is not accepted; the message says what is."""


@dataclass(frozen=True)
class Config:
    """Everything that defines a run. Every random draw flows from ``seed``."""

    data: str = "ring8"
    loss: str = "nonsaturating"
    k: int = 1
    lr_d: float = 1e-3
    lr_g: float = 1e-3
    optimizer: str = "adam"
    batch_size: int = 256
    z_dim: int = 2
    hidden: int = 128
    layers: int = 2
    clip: float = 0.01
    gp_weight: float = 10.0
    seed: int = 0
    device: str = "auto"
    update: str = "alternating"
    r1: float = 0.0
    r2: float = 0.0
    consensus: float = 0.0
    instance_noise: float = 0.0
    instance_noise_anneal: int = 0  # iterations over which the noise std falls linearly to 0
    ema: float = 0.0  # decay of the moving average of G's weights; 0: off
    adam_beta1: float = 0.5  # as in DCGAN
    adam_beta2: float = 0.999
    spectral_norm: int = 0  # 1: D's layers are W / sigma(W) (Miyato et al. 2018)
    ttur: float = 0.0  # r > 0 locks lr_d = r * lr_g (Heusel et al. 2017); 0: free rates

    def __post_init__(self) -> None:
        from .datakey import check_data  # a name, mixture:SPEC or points:PATH (ganviz/core/datakey.py)

        object.__setattr__(self, "data", check_data(self.data))  # kept in canonical form
        _check_choice("loss", self.loss, LOSS_NAMES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("device", self.device, DEVICES)
        _check_int("k", self.k, 1, 1000)
        _check_int("batch_size", self.batch_size, 1, 1 << 20)
        _check_int("z_dim", self.z_dim, 1, 1024)
        _check_int("hidden", self.hidden, 1, 8192)
        _check_int("layers", self.layers, 1, 16)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        _check_float("lr_d", self.lr_d, positive=True)
        _check_float("lr_g", self.lr_g, positive=True)
        _check_float("clip", self.clip, positive=True)
        _check_float("gp_weight", self.gp_weight, positive=False)
        _check_choice("update", self.update, UPDATES)
        for key in ("r1", "r2", "consensus", "instance_noise", "ttur"):
            _check_float(key, getattr(self, key), positive=False)
        _check_int("instance_noise_anneal", self.instance_noise_anneal, 0, 2**62)
        _check_int("spectral_norm", self.spectral_norm, 0, 1)
        for key in ("ema", "adam_beta1", "adam_beta2"):
            value = getattr(self, key)
            _check_float(key, value, positive=False)
            if value >= 1:
                raise ConfigError(f"{key} must be in [0, 1), got {value}")
        if self.k > 1 and self.update != "alternating":
            raise ConfigError(f"k={self.k} is for update=alternating; {self.update} moves both "
                              "players at once (k=1), as in the dynamics lab")
        if self.consensus > 0 and losses_meta(self.loss).clip_weights:
            raise ConfigError("consensus with loss=wgan is not supported: weight clipping moves D "
                              "off the field consensus descends; accepted: any other loss")
        if self.ttur > 0 and not math.isclose(self.lr_d, self.ttur * self.lr_g, rel_tol=1e-9):
            raise ConfigError(f"ttur={self.ttur:g} locks lr_d = {self.ttur:g} * lr_g, got lr_d="
                              f"{self.lr_d:g} and lr_g={self.lr_g:g}; set one rate, or ttur=0")
        try:  # last: a model or batch that would not fit in memory, before anything is allocated
            budget.check_memory(self.dim, self.z_dim, self.hidden, self.layers, self.batch_size,
                                self.optimizer, self.loss, cuda=self.device == "cuda")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @property
    def dim(self) -> int:
        """Dimension of the data space: 1 or 2."""
        from .datakey import data_dim

        return data_dim(self.data)

    def to_dict(self) -> dict[str, Any]:
        """The config as a plain dict of its keys (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: Config | None = None) -> Config:
        """Build a config from ``base`` (default: the defaults) updated by ``values``.

        ``lr`` sets both ``lr_d`` and ``lr_g``. Raises ConfigError naming an
        unknown key or a bad value and what is accepted.
        """
        base = base or cls()
        merged = base.to_dict()
        given = expand_lr(values)
        for key, value in given.items():
            if key not in merged:
                raise ConfigError(
                    f"unknown key {key!r}; accepted keys: {', '.join(KEYS + ('lr',))}"
                )
            merged[key] = _coerce(key, value)
        _lock_rates(merged, values)
        return cls(**merged)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied and validated."""
        return Config.from_dict(changes, base=self)


KEYS = tuple(f.name for f in fields(Config))


def dynamics_changes(config: Config) -> dict:
    """The keys of DYNAMICS_KEYS whose value in ``config`` is not the default."""
    return {k: getattr(config, k) for k, v in DYNAMICS_KEYS.items() if getattr(config, k) != v}


def _lock_rates(merged: dict, given: Mapping[str, Any]) -> None:
    """With ``ttur`` r > 0, derive the rate that was not given: lr_d = r * lr_g.

    lr_g leads (``lr`` sets lr_g then, and a change of r itself moves lr_d); a
    given lr_d alone moves lr_g = lr_d / r. An explicit pair that breaks the lock
    is left for validation to refuse.
    """
    r = merged.get("ttur")
    if not isinstance(r, (int, float)) or isinstance(r, bool) or not r > 0:
        return
    explicit_g = "lr_g" in given or "lr" in given
    if "lr_d" in given and not explicit_g:
        merged["lr_g"] = merged["lr_d"] / r
    elif "lr_d" not in given:
        merged["lr_d"] = r * merged["lr_g"]
_TYPES = {f.name: f.type for f in fields(Config)}


def expand_lr(values: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the shorthand ``lr`` by ``lr_d`` and ``lr_g`` (explicit ones win)."""
    out = dict(values)
    if "lr" in out:
        lr = out.pop("lr")
        out.setdefault("lr_d", lr)
        out.setdefault("lr_g", lr)
    return out


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse ``key=value`` from the command line into a typed (key, value).

    Raises ConfigError for a missing ``=``, an unknown key or a value of the
    wrong type.
    """
    key, sep, raw = text.partition("=")
    key, raw = key.strip(), raw.strip()
    if not sep or not key:
        raise ConfigError(f"expected key=value, got {text!r}")
    if key != "lr" and key not in _TYPES:
        raise ConfigError(f"unknown key {key!r}; accepted keys: {', '.join(KEYS + ('lr',))}")
    return key, _coerce(key, raw)


def _coerce(key: str, value: Any) -> Any:
    """Convert a string or JSON value to the key's type, or raise ConfigError."""
    kind = "float" if key == "lr" else _TYPES[key]
    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a name, got {value!r}")
        return value.strip()
    if isinstance(value, bool):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if kind == "int":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{key} must be an integer, got {value!r}") from None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a number, got {value!r}") from None
    return number


def _check_choice(key: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ConfigError(f"unknown {key} {value!r}; accepted: {', '.join(accepted)}")


def _check_int(key: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{key} must be between {low} and {high}, got {value}")


def _check_float(key: str, value: Any, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value}")
    low = f"{FLOAT32_TINY:.2g}" if positive else "0"
    accepted = f"accepted: {low} to {FLOAT32_MAX:.2g} (float32)"
    if positive and value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}; {accepted}")
    if not positive and value < 0:
        raise ConfigError(f"{key} must be >= 0, got {value}; {accepted}")
    if value > FLOAT32_MAX or (positive and value < FLOAT32_TINY):
        raise ConfigError(f"{key} {value:g} does not fit a float32; {accepted}")
