"""A run's state as plain numpy, and its validation before anything is loaded.

A state is nested dicts of numpy arrays and Python numbers, so it crosses a
process pipe, a session file or the window without torch:

- ``G``, ``D``: {name: array} as the networks' ``state_dict`` names them;
- ``optim`` (optional): {"name": optimizer, "D"/"G": {"steps": int,
  "buffers": {buffer: (n,) array}}}, the buffers of ``config.OPTIMIZER_BUFFERS``
  over a network's n flat parameters;
- ``rng`` (optional): {"device": "cpu" or "cuda", "state": (k,) uint8 array};
- ``counters`` (optional): {"step", "d_updates", "g_updates": int in [0, 2**63)};
- ``frozen`` (optional): a sorted list of "d", "g";
- ``G_ema`` (optional): G's moving average, laid out as ``G``;
- ``sn`` (optional): {"u": [(out,) array], "v": [(in,) array]}, one per layer of D:
  the spectral-norm power-iteration vectors.

:func:`checked` validates every part before an engine changes anything.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from ..config import OPTIMIZER_BUFFERS, OPTIMIZERS

COUNTERS = ("step", "d_updates", "g_updates")
COUNT_LIMIT = 2**63


def to_numpy(t) -> np.ndarray:
    """A CPU numpy copy of a tensor or array, contiguous."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().contiguous().numpy().copy()
    return np.array(t, copy=True)


def _array(value, what: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise ValueError(f"{what} must be an array, got {type(value).__name__}")


def _mapping(value, what: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be a dict, got {type(value).__name__}")
    return value


def _count(value, what: str) -> int:
    if isinstance(value, (np.integer, np.ndarray)) and np.ndim(value) == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer in [0, 2**63), got {value!r}")
    if not 0 <= value < COUNT_LIMIT:
        raise ValueError(f"{what} must be in [0, 2**63), got {value}")
    return value


def _floats(value, what: str, shape: tuple) -> np.ndarray:
    a = _array(value, what)
    if a.dtype.kind != "f":
        raise ValueError(f"{what} must hold floating-point numbers, got dtype {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{what} has shape {a.shape}, expected {shape}")
    return a


def _names(got, want, what: str) -> None:
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    if missing or extra:
        parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unexpected {', '.join(map(str, extra))}"] if extra else [])
        raise ValueError(f"{what}: {'; '.join(parts)} (expected {', '.join(want)})")


def checked(state: Any, nets: Mapping[str, torch.nn.Module], optimizer: str,
            device_type: str) -> dict:
    """``state`` validated against the run's networks, optimizer and device.

    Parameters
    ----------
    state : dict
        A state as :meth:`Engine.state` gives it (numpy arrays, or torch tensors).
    nets : dict
        {"G": module, "D": module}: the names and shapes the weights must have.
    optimizer : str
        The config's optimizer: optimizer buffers for it must be complete.
    device_type : str
        "cpu" or "cuda": a random stream for this device type must be one its
        generator accepts.

    Returns
    -------
    dict
        The parts to load, numpy throughout; ``optim`` and ``rng`` only when
        they apply to this run (another optimizer's buffers, another device's
        stream are valid but not used).

    Raises
    ------
    ValueError
        One sentence naming the part that is wrong and what was expected.
    """
    state = _mapping(state, "the state")
    out: dict = {}
    sizes = {}
    for net in ("G", "D"):
        if net not in state:
            raise ValueError(f"the state has no {net} weights (expected keys G and D)")
        weights = _mapping(state[net], f"{net} weights")
        want = {k: tuple(v.shape) for k, v in nets[net].state_dict().items()}
        _names(weights, list(want), f"{net} weights")
        out[net] = {k: _floats(weights[k], f"{net} weight {k}", want[k]) for k in want}
        sizes[net] = sum(int(np.prod(s)) for s in want.values())
    if state.get("G_ema") is not None:
        weights = _mapping(state["G_ema"], "G_ema weights")
        want = {k: tuple(v.shape) for k, v in nets["G"].state_dict().items()}
        _names(weights, list(want), "G_ema weights")
        out["G_ema"] = {k: _floats(weights[k], f"G_ema weight {k}", want[k]) for k in want}
    if state.get("sn") is not None:
        sn = _mapping(state["sn"], "spectral-norm state")
        shapes = [tuple(v.shape) for k, v in nets["D"].state_dict().items() if k.endswith("weight")]
        out["sn"] = {}
        for part, axis in (("u", 0), ("v", 1)):
            vectors = sn.get(part)
            if not isinstance(vectors, (list, tuple)) or len(vectors) != len(shapes):
                raise ValueError(f"spectral-norm state {part} must list {len(shapes)} vectors")
            out["sn"][part] = [_floats(a, f"spectral-norm {part}[{i}]", (shape[axis],))
                               for i, (a, shape) in enumerate(zip(vectors, shapes))]
    if state.get("optim") is not None:
        optim = _mapping(state["optim"], "optimizer state")
        name = optim.get("name")
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer state names {name!r}; expected one of {', '.join(OPTIMIZERS)}")
        if name == optimizer:
            out["optim"] = {"name": name}
            for net in ("G", "D"):
                part = _mapping(optim.get(net), f"{net} optimizer state")
                buffers = _mapping(part.get("buffers"), f"{net} optimizer buffers")
                _names(buffers, OPTIMIZER_BUFFERS[name], f"{net} {name} optimizer buffers")
                out["optim"][net] = {
                    "steps": _count(part.get("steps"), f"{net} optimizer steps"),
                    "buffers": {b: _floats(buffers[b], f"{net} optimizer buffer {b}", (sizes[net],))
                                for b in OPTIMIZER_BUFFERS[name]},
                }
    if state.get("rng") is not None:
        rng = _mapping(state["rng"], "rng state")
        device = rng.get("device")
        if device not in ("cpu", "cuda"):
            raise ValueError(f"rng state is for device {device!r}; expected cpu or cuda")
        raw = _array(rng.get("state"), "rng state")
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"rng state must be a 1-D uint8 array, got {raw.dtype} of shape {raw.shape}")
        if device == device_type:
            raw = np.ascontiguousarray(raw)
            try:  # torch knows what a valid stream is (length, a non-zero mt19937 state)
                torch.Generator(device=device_type).set_state(torch.from_numpy(raw.copy()))
            except (RuntimeError, ValueError) as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ValueError(f"rng state of {raw.size} bytes is not a valid {device} "
                                 f"generator state ({reason})") from None
            out["rng"] = {"device": device, "state": raw}
    if state.get("counters") is not None:
        counters = _mapping(state["counters"], "counters")
        out["counters"] = {k: _count(counters.get(k), f"counter {k}") for k in COUNTERS}
    if state.get("frozen") is not None:
        frozen = state["frozen"]
        if not isinstance(frozen, (list, tuple, set, frozenset)) or not all(
                f in ("d", "g") for f in frozen):
            raise ValueError(f"frozen must list 'd' and/or 'g', got {frozen!r}")
        out["frozen"] = sorted(set(frozen))
    return out
