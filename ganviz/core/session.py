"""Session files: a run's config and, optionally, its exact state and metric history.

A session is one JSON file, so a teacher can prepare a state and open it in
class. The state is G and D's weights and, for an exact resume, the
optimizers' running buffers, the random stream, the step counters and which
networks are frozen: training on from a loaded session gives the same
numbers as training on without saving (same device type). Tensors are stored
as base64 of little-endian float32 with their shapes; history as lists of
numbers. Every problem reading a file raises one SessionError that names the
file and what is wrong; nothing is half-loaded.

Version 1 files (weights only) are read too: their optimizers start afresh.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import Config, ConfigError
from .presets import read_json

FORMAT = "ganviz-session"
VERSION = 2


class SessionError(ConfigError):
    """A session file that cannot be read; the message says why."""


@dataclass(frozen=True)
class Session:
    """What a session file holds."""

    config: Config
    step: int = 0
    state: dict | None = None  # Engine.state(full=True), or just {"G": ..., "D": ...}
    history: dict = field(default_factory=dict)  # per-iteration: name -> (n,) float64
    measured: dict = field(default_factory=dict)  # per measurement: name -> (m,) float64
    preset: str = ""


def save_session(path, session: Session) -> None:
    """Write ``session`` to ``path`` atomically (a crash never leaves half a file).

    Parameters
    ----------
    path : str or Path
        Destination, conventionally ``*.json``.
    session : Session
        Config, and optionally weights and history.
    """
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "preset": session.preset,
        "step": int(session.step),
        "config": session.config.to_dict(),
        "history": _columns_out(session.history),
        "measured": _columns_out(session.measured),
    }
    state = session.state
    if state is not None:
        doc["weights"] = {net: {k: _encode(t) for k, t in state[net].items()} for net in ("G", "D")}
        if "optim" in state:
            optim = state["optim"]
            doc["optimizer"] = {"name": optim["name"], **{
                net: {"steps": int(optim[net]["steps"]),
                      "buffers": {k: _encode(t) for k, t in optim[net]["buffers"].items()}}
                for net in ("G", "D")}}
        if "rng" in state:
            raw = np.asarray(state["rng"]["state"], dtype=np.uint8).tobytes()
            doc["rng"] = {"device": state["rng"]["device"],
                          "state": base64.b64encode(raw).decode("ascii")}
        if "counters" in state:
            doc["counters"] = {k: int(v) for k, v in state["counters"].items()}
        if "frozen" in state:
            doc["frozen"] = list(state["frozen"])
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_session(path) -> Session:
    """Read a session file; SessionError names the problem and what is accepted."""
    path = Path(path)
    doc = read_json(path, "session file", SessionError)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SessionError(f"{path} is not a ganviz session file (no \"format\": \"{FORMAT}\")")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SessionError(f"session file {path} has no valid version number")
    if version > VERSION:
        raise SessionError(
            f"session file {path} is version {version}, written by a newer ganviz; "
            f"this one reads version {VERSION} or older"
        )
    try:
        config = Config.from_dict(_need(doc, "config", dict))
        step = _count(doc.get("step", 0), "step")
        history = _columns_in(doc, "history")
        measured = _columns_in(doc, "measured")
        state = None
        if "weights" in doc:
            weights = _need(doc, "weights", dict)
            state = {net: {k: _decode(v, f"{net}.{k}") for k, v in _need(weights, net, dict).items()}
                     for net in ("G", "D")}
            _check_shapes(config, state)
            state.update(_read_resume(doc, config, state))
        preset = doc.get("preset", "")
    except SessionError as exc:
        raise SessionError(f"session file {path}: {exc}") from None
    except ConfigError as exc:
        raise SessionError(f"session file {path}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise SessionError(f"session file {path}: malformed content ({exc})") from None
    return Session(config=config, step=step, state=state, history=history, measured=measured,
                   preset=preset if isinstance(preset, str) else "")


def state_to_numpy(state):
    """An Engine.state() with numpy arrays for tensors: what crosses a process pipe plainly."""
    if isinstance(state, dict):
        return {k: state_to_numpy(v) for k, v in state.items()}
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().numpy().copy()
    return state


def state_to_torch(state):
    """The inverse of :func:`state_to_numpy`."""
    if isinstance(state, dict):
        return {k: state_to_torch(v) for k, v in state.items()}
    if isinstance(state, np.ndarray):
        return torch.from_numpy(state.copy())
    return state


def _count(value, what: str) -> int:
    """``value`` if it is a non-negative integer; else SessionError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SessionError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def _columns_out(columns: dict) -> dict:
    """Columns as JSON lists; NaN (a metric not measured) is not JSON: null stands for it."""
    out = {}
    for k, v in columns.items():
        a = np.asarray(v, dtype=np.float64)
        column = a.astype(object)
        column[np.isnan(a)] = None
        out[k] = column.tolist()
    return out


def _columns_in(doc: dict, key: str) -> dict:
    """Named columns of numbers (null: NaN), all of one length."""
    columns = {}
    for k, v in _need(doc, key, dict, {}).items():
        try:
            arr = np.asarray(v, dtype=np.float64)  # null (None) reads as NaN
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 1:
            raise SessionError(f"{key} {k!r} must be a list of numbers")
        columns[k] = arr
    if len({len(v) for v in columns.values()}) > 1:
        raise SessionError(f"{key} columns have different lengths")
    return columns


def _read_resume(doc: dict, config: Config, weights: dict) -> dict:
    """The optional exact-resume parts of a session: optimizer, stream, counters, frozen."""
    out: dict = {}
    if "optimizer" in doc:
        optim = _need(doc, "optimizer", dict)
        name = optim.get("name")
        if name != config.optimizer:
            raise SessionError(f"optimizer state is for {name!r}, the config says {config.optimizer!r}")
        out["optim"] = {"name": name}
        for net in ("G", "D"):
            part = _need(optim, net, dict)
            steps = _count(part.get("steps"), f"optimizer {net} steps")
            size = sum(t.numel() for t in weights[net].values())
            buffers = {k: _decode(v, f"optimizer.{net}.{k}") for k, v in _need(part, "buffers", dict).items()}
            for k, t in buffers.items():
                if t.shape != (size,):
                    raise SessionError(f"optimizer buffer {net}.{k} has shape {tuple(t.shape)}, "
                                       f"the network has {size} parameters")
            out["optim"][net] = {"steps": steps, "buffers": buffers}
    if "rng" in doc:
        rng = _need(doc, "rng", dict)
        try:
            raw = base64.b64decode(rng["state"], validate=True)
        except (KeyError, ValueError, TypeError):
            raise SessionError("rng state is not valid base64") from None
        out["rng"] = {"device": str(rng.get("device")),
                      "state": torch.frombuffer(bytearray(raw), dtype=torch.uint8)}
    if "counters" in doc:
        counters = _need(doc, "counters", dict)
        out["counters"] = {k: _count(counters.get(k), f"counters.{k}")
                           for k in ("step", "d_updates", "g_updates")}
    if "frozen" in doc:
        frozen = _need(doc, "frozen", list)
        if not set(frozen) <= {"d", "g"}:
            raise SessionError(f"frozen must list 'd' and/or 'g', got {frozen!r}")
        out["frozen"] = sorted(frozen)
    return out


def _need(doc: dict, key: str, kind: type, default=None):
    if key not in doc:
        if default is not None:
            return default
        raise SessionError(f"missing {key!r}")
    if not isinstance(doc[key], kind):
        raise SessionError(f"{key!r} must be a JSON {'object' if kind is dict else kind.__name__}")
    return doc[key]


def _encode(t) -> dict:
    a = (t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)).astype("<f4")
    return {"shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _decode(v, name: str) -> torch.Tensor:
    if not isinstance(v, dict) or "shape" not in v or "data" not in v:
        raise SessionError(f"weight {name} must be an object with shape and data")
    shape = tuple(int(s) for s in v["shape"])
    try:
        raw = base64.b64decode(v["data"], validate=True)
    except (ValueError, TypeError):
        raise SessionError(f"weight {name} is not valid base64") from None
    if len(raw) != 4 * int(np.prod(shape)):
        raise SessionError(f"weight {name} holds {len(raw) // 4} numbers, its shape {shape} needs {int(np.prod(shape))}")
    a = np.frombuffer(raw, dtype="<f4").reshape(shape)
    if not np.all(np.isfinite(a)):
        raise SessionError(f"weight {name} is not finite")
    return torch.from_numpy(a.astype(np.float32))


def _check_shapes(config: Config, state: dict) -> None:
    """The weights must fit the models the config builds."""
    from .models import make_models

    dim = config.dim
    for net, module in zip(("G", "D"), make_models(dim, config.z_dim, config.hidden, config.layers)):
        want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        got = {k: tuple(v.shape) for k, v in state[net].items()}
        if want != got:
            raise SessionError(
                f"the weights of {net} do not fit the config (z_dim={config.z_dim}, "
                f"hidden={config.hidden}, layers={config.layers})"
            )
