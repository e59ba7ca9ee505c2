"""Session files: a run's config and, optionally, its exact state and metric history.

A session is one JSON file, so a teacher can prepare a state and open it in
class. The state is G and D's weights and, for an exact resume, the
optimizers' running buffers, the random stream, the step counters and which
networks are frozen: training on from a loaded session gives the same
numbers as training on without saving (same device type). Tensors are stored
as base64 of little-endian float32 with their shapes; history as lists of
numbers.

Reading is complete validation: every part an engine will use is checked
(shapes against the config, finite weights, every buffer the optimizer needs,
a random stream the generator accepts, counters that fit an int64) before a
:class:`Session` is returned, so a broken file raises one SessionError that
names the file and the problem, and the run in progress is never replaced by
one that cannot train. Nothing here imports torch (the window's process opens
sessions): tensors decode to numpy float32 arrays, the random stream to a
numpy uint8 array.

A target loaded from points (``data`` = ``points:SOURCE#DIGEST``) is kept in
the file too, in a ``target`` section (the points as base64 of little-endian
float64 and their shape), so the session reopens with the same target, bit
for bit, when the source file has moved or changed; a typed mixture is whole
in its ``data`` text.

A comparison's session keeps the base config, the compared key and values,
and per member the same state sections and its history, in a ``comparison``
section; each member's state is validated against its own config.

The measured history may hold per-mode sample counts as columns
``mode_count_0``, ``mode_count_1``, ... (:class:`ganviz.core.history.History`);
files without them read as before.

Version 1 files (weights only) are read too: their optimizers start afresh.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import points as point_sets
from .budget import network_shapes
from .config import OPTIMIZER_BUFFERS, Config, ConfigError
from .files import atomic_open
from .presets import read_json

FORMAT = "ganviz-session"
VERSION = 2
#: The largest counter or step: torch and numpy count in int64.
MAX_COUNT = 2**63 - 1
#: Bytes of a random stream's state by device type: torch's CPU generator
#: (``torch.Generator().get_state().numel()``: mt19937's 624 words and its
#: normal-sampling cache) and CUDA's Philox (seed and offset).
RNG_BYTES = {"cpu": 5056, "cuda": 16}


class SessionError(ConfigError):
    """A session file that cannot be read; the message says why."""


@dataclass(frozen=True)
class Session:
    """What a session file holds.

    ``state`` holds numpy arrays when read from a file: {"G": {name: float32
    array}, "D": ..., and optionally "optim", "rng" (uint8 array), "counters",
    "frozen"}, the layout of ``Engine.state(full=True)``.
    """

    config: Config
    step: int = 0
    state: dict | None = None  # Engine.state(full=True), or just {"G": ..., "D": ...}
    history: dict = field(default_factory=dict)  # per-iteration: name -> (n,) float64
    measured: dict = field(default_factory=dict)  # per measurement: name -> (m,) float64
    preset: str = ""
    #: A comparison's session: {"key", "values", "members": [{"state", "history",
    #: "measured"}, ...]}, one member per value; ``config`` is the base they vary.
    comparison: dict | None = None


def save_session(path, session: Session) -> None:
    """Write ``session`` to ``path`` atomically (a crash never leaves half a file).

    The file keeps the mode of the one it replaces; a read-only file is refused
    (:func:`ganviz.core.files.atomic_path`).

    Parameters
    ----------
    path : str or Path
        Destination, conventionally ``*.json``.
    session : Session
        Config, and optionally weights and history; tensors may be torch or numpy.
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
    if session.config.data.startswith(point_sets.PREFIX):
        found = point_sets.resolve_points(session.config.data)
        raw = np.ascontiguousarray(found.points, dtype="<f8").tobytes()
        doc["target"] = {"points": {"shape": list(found.points.shape),
                                    "data": base64.b64encode(raw).decode("ascii")}}
    if session.state is not None:
        doc.update(_state_out(session.state))
    if session.comparison is not None:
        c = session.comparison
        doc["comparison"] = {"key": c["key"], "values": list(c["values"]), "members": [
            {**_state_out(m["state"]), "history": _columns_out(m.get("history", {})),
             "measured": _columns_out(m.get("measured", {}))} for m in c["members"]]}
    with atomic_open(path, "w", what="session file") as f:
        json.dump(doc, f)


def save_comparison(path, base: Config, key: str, values, step: int, states: list,
                    columns: list, preset: str = "") -> None:
    """Write a comparison's session: the base config, the compared key and values, and per
    member its exact state and its (per-iteration, measured) history ``columns``."""
    members = [{"state": st, "history": h, "measured": m} for st, (h, m) in zip(states, columns)]
    save_session(path, Session(base, step=step, preset=preset,
                               comparison={"key": key, "values": list(values), "members": members}))


def _state_out(state: dict) -> dict:
    """An engine state as the file's sections: weights, optimizer, rng, counters, frozen."""
    doc: dict = {"weights": {net: {k: _encode(t) for k, t in state[net].items()}
                             for net in ("G", "D")}}
    if "optim" in state:
        optim = state["optim"]
        doc["optimizer"] = {"name": optim["name"], **{
            net: {"steps": int(optim[net]["steps"]),
                  "buffers": {k: _encode(t) for k, t in optim[net]["buffers"].items()}}
            for net in ("G", "D")}}
    if "rng" in state:
        raw = _numpy(state["rng"]["state"]).astype(np.uint8).tobytes()
        doc["rng"] = {"device": state["rng"]["device"],
                      "state": base64.b64encode(raw).decode("ascii")}
    if "counters" in state:
        doc["counters"] = {k: int(v) for k, v in state["counters"].items()}
    if "frozen" in state:
        doc["frozen"] = list(state["frozen"])
    if "G_ema" in state:  # G's moving average (ema > 0): what the views draw
        doc["ema_weights"] = {k: _encode(t) for k, t in state["G_ema"].items()}
    if "sn" in state:  # the spectral-norm power-iteration vectors of D's layers
        doc["spectral_norm"] = {part: [_encode(t) for t in state["sn"][part]] for part in ("u", "v")}
    return doc


def _state_in(doc: dict, config: Config, step: int | None) -> dict:
    """The engine state of the file's sections, validated against ``config`` (and ``step``)."""
    weights = _need(doc, "weights", dict)
    state = {net: {k: _decode(v, f"{net}.{k}") for k, v in _need(weights, net, dict).items()}
             for net in ("G", "D")}
    _check_shapes(config, state)
    state.update(_read_resume(doc, config, state))
    if "ema_weights" in doc:
        ema = {k: _decode(v, f"G_ema.{k}") for k, v in _need(doc, "ema_weights", dict).items()}
        _check_shapes(config, {"G": ema, "D": state["D"]})
        state["G_ema"] = ema
    if "spectral_norm" in doc:
        sn = _need(doc, "spectral_norm", dict)
        state["sn"] = {part: [_decode(v, f"spectral_norm.{part}[{i}]")
                              for i, v in enumerate(_need(sn, part, list))] for part in ("u", "v")}
    counters = state.get("counters")
    if counters is not None and step is not None and counters["step"] != step:
        raise SessionError(f"step {step} disagrees with counters.step {counters['step']}")
    return state


def _comparison_in(doc: dict, base: Config, step: int) -> dict:
    """A comparison section: its key and values (as a comparison accepts them), each
    member's state checked against its own config, and its history."""
    from .variants import MAX_VALUES_HEADLESS, parse_compare

    c = _need(doc, "comparison", dict)
    key, values = c.get("key"), c.get("values")
    if not isinstance(key, str) or not isinstance(values, list):
        raise SessionError("comparison must hold a key (text) and values (a list)")
    configs = parse_compare(f"{key}=" + ",".join(str(v) for v in values), base,
                            most=MAX_VALUES_HEADLESS)[1]
    members = _need(c, "members", list)
    if len(members) != len(configs):
        raise SessionError(f"comparison has {len(members)} members for {len(configs)} values")
    out = []
    for i, (m, config) in enumerate(zip(members, configs)):
        if not isinstance(m, dict):
            raise SessionError(f"comparison member {i} must be a JSON object")
        try:
            out.append({"state": _state_in(m, config, step),
                        "history": _columns_in(m, "history"),
                        "measured": _columns_in(m, "measured")})
        except SessionError as exc:
            raise SessionError(f"comparison member {i} ({key}={values[i]}): {exc}") from None
    return {"key": key, "values": [getattr(c, key) for c in configs], "members": out}


def load_session(path) -> Session:
    """Read and fully validate a session file.

    Raises
    ------
    SessionError
        One line naming the file, the problem and what is accepted; raised
        before anything is returned, so nothing is half-loaded.
    """
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
    if version < 1:
        raise SessionError(f"session file {path} has version {version}; "
                           f"accepted: 1 to {VERSION}")
    try:
        config_doc = _need(doc, "config", dict)
        if "target" in doc:  # the stored points, before the config that names them
            _read_target(_need(doc, "target", dict), config_doc.get("data"))
        config = Config.from_dict(config_doc)
        step = _count(doc.get("step", 0), "step")
        history = _columns_in(doc, "history")
        measured = _columns_in(doc, "measured")
        state = None
        if "weights" in doc:
            state = _state_in(doc, config, step if "step" in doc else None)
        comparison = _comparison_in(doc, config, step) if "comparison" in doc else None
        preset = doc.get("preset", "")
    except SessionError as exc:
        raise SessionError(f"session file {path}: {exc}") from None
    except ConfigError as exc:
        raise SessionError(f"session file {path}: {exc}") from None
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        raise SessionError(f"session file {path}: malformed content ({exc})") from None
    return Session(config=config, step=step, state=state, history=history, measured=measured,
                   preset=preset if isinstance(preset, str) else "", comparison=comparison)


def _numpy(t) -> np.ndarray:
    """A torch tensor (any device) or array-like as a numpy array; torch is never imported here."""
    torch = sys.modules.get("torch")  # no tensor can exist where torch was never imported
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


def _count(value, what: str) -> int:
    """``value`` if it is an integer in [0, MAX_COUNT]; else SessionError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise SessionError(f"{what} must be an integer from 0 to 2**63 - 1, got {value!r}")
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
        except (TypeError, ValueError, OverflowError):
            arr = None
        if arr is None or arr.ndim != 1:
            raise SessionError(f"{key} {k!r} must be a list of numbers")
        columns[k] = arr
    if len({len(v) for v in columns.values()}) > 1:
        raise SessionError(f"{key} columns have different lengths")
    return columns


def _read_target(target: dict, data) -> None:
    """Check the stored points of a ``points:`` target and make them the ones its data names."""
    if not isinstance(data, str) or not data.startswith(point_sets.PREFIX):
        raise SessionError(f"a target section needs config data 'points:...', got {data!r}")
    source, digest = point_sets.split_data(data)
    if digest is None:
        raise SessionError(f"config data {data!r} has no #digest for its stored points")
    v = _need(target, "points", dict)
    shape = v.get("shape")
    if (not isinstance(shape, list) or len(shape) != 2 or not all(
            isinstance(k, int) and not isinstance(k, bool) for k in shape)
            or not (1 <= shape[0] <= point_sets.MAX_POINTS and shape[1] in (1, 2))):
        raise SessionError(f"target points have shape {shape!r}; accepted: [n, 1] or [n, 2], "
                           f"n up to {point_sets.MAX_POINTS:,}")
    try:
        raw = base64.b64decode(v.get("data"), validate=True)
    except (ValueError, TypeError, binascii.Error):
        raise SessionError("target points are not valid base64") from None
    if len(raw) != 8 * shape[0] * shape[1]:
        raise SessionError(f"target points hold {len(raw) / 8:g} numbers, their shape "
                           f"{tuple(shape)} needs {shape[0] * shape[1]}")
    a = np.frombuffer(raw, dtype="<f8").reshape(shape).astype(np.float64)
    found = point_sets.register_points(a, source)  # checks them as a file's points are checked
    if found.digest != digest:
        raise SessionError(f"the stored target points are #{found.digest}, the config names "
                           f"#{digest}")


def _read_resume(doc: dict, config: Config, weights: dict) -> dict:
    """The optional exact-resume parts of a session: optimizer, stream, counters, frozen."""
    out: dict = {}
    if "optimizer" in doc:
        optim = _need(doc, "optimizer", dict)
        name = optim.get("name")
        if name != config.optimizer:
            raise SessionError(f"optimizer state is for {name!r}, the config says {config.optimizer!r}")
        out["optim"] = {"name": name}
        needed = OPTIMIZER_BUFFERS[name]
        for net in ("G", "D"):
            part = _need(optim, net, dict)
            steps = _count(part.get("steps"), f"optimizer {net} steps")
            size = sum(a.size for a in weights[net].values())
            stored = _need(part, "buffers", dict)
            missing = [k for k in needed if k not in stored]
            if missing:
                raise SessionError(f"optimizer buffer {net}.{missing[0]} is missing; "
                                   f"{name} needs {', '.join(needed)}")
            unknown = sorted(k for k in stored if k not in needed)
            if unknown:
                raise SessionError(f"optimizer buffer {net}.{unknown[0]} is not one of "
                                   f"{name}'s ({', '.join(needed)})")
            buffers = {k: _decode(v, f"optimizer.{net}.{k}") for k, v in stored.items()}
            for k, a in buffers.items():
                if a.shape != (size,):
                    raise SessionError(f"optimizer buffer {net}.{k} has shape {tuple(a.shape)}, "
                                       f"the network has {size} parameters: ({size},)")
            out["optim"][net] = {"steps": steps, "buffers": buffers}
    if "rng" in doc:
        out["rng"] = _read_rng(_need(doc, "rng", dict))
    if "counters" in doc:
        counters = _need(doc, "counters", dict)
        out["counters"] = {k: _count(counters.get(k), f"counters.{k}")
                           for k in ("step", "d_updates", "g_updates")}
    if "frozen" in doc:
        frozen = _need(doc, "frozen", list)
        if not all(isinstance(f, str) for f in frozen) or not set(frozen) <= {"d", "g"}:
            raise SessionError(f"frozen must list 'd' and/or 'g', got {frozen!r}")
        out["frozen"] = sorted(set(frozen))
    return out


def _read_rng(rng: dict) -> dict:
    """A random stream's state that the device's generator will accept."""
    device = rng.get("device")
    if device not in RNG_BYTES:
        raise SessionError(f"rng device must be 'cpu' or 'cuda', got {device!r}")
    try:
        raw = base64.b64decode(rng["state"], validate=True)
    except (KeyError, ValueError, TypeError, binascii.Error):
        raise SessionError("rng state is not valid base64") from None
    if len(raw) != RNG_BYTES[device]:
        raise SessionError(f"rng state holds {len(raw)} bytes; a {device} generator's "
                           f"holds {RNG_BYTES[device]}")
    state = np.frombuffer(raw, dtype=np.uint8).copy()
    if not state.any():
        raise SessionError("rng state is all zeros, not a generator's state")
    if device == "cpu":
        # mt19937's header as torch checks it: position (1..624), seeded flag, next (<= 624).
        left, seeded = (int(x) for x in state[8:16].view("<i4"))
        position = int(state[16:24].view("<u8")[0])
        if not (0 < left <= 624 and seeded == 1 and position <= 624):
            raise SessionError("rng state is not a valid mt19937 state (torch would refuse it)")
    return {"device": device, "state": state}


def _need(doc: dict, key: str, kind: type, default=None):
    if key not in doc:
        if default is not None:
            return default
        raise SessionError(f"missing {key!r}")
    if not isinstance(doc[key], kind):
        raise SessionError(f"{key!r} must be a JSON {'object' if kind is dict else kind.__name__}")
    return doc[key]


def _encode(t) -> dict:
    a = _numpy(t).astype("<f4")
    return {"shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def _decode(v, name: str) -> np.ndarray:
    """A stored tensor as a finite float32 array of its shape; SessionError otherwise."""
    if not isinstance(v, dict) or "shape" not in v or "data" not in v:
        raise SessionError(f"weight {name} must be an object with shape and data")
    shape = v["shape"]
    if not isinstance(shape, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**31 for s in shape):
        raise SessionError(f"weight {name} has shape {shape!r}; a shape is a list of sizes")
    shape = tuple(shape)
    size = math.prod(shape)
    try:
        raw = base64.b64decode(v["data"], validate=True)
    except (ValueError, TypeError, binascii.Error):
        raise SessionError(f"weight {name} is not valid base64") from None
    if len(raw) != 4 * size:
        raise SessionError(f"weight {name} holds {len(raw) / 4:g} numbers, its shape {shape} needs {size}")
    a = np.frombuffer(raw, dtype="<f4").reshape(shape).astype(np.float32)
    if not np.all(np.isfinite(a)):
        raise SessionError(f"weight {name} is not finite")
    return a


def _check_shapes(config: Config, state: dict) -> None:
    """The weights must fit the models the config builds."""
    shapes = network_shapes(config.dim, config.z_dim, config.hidden, config.layers)
    for net in ("G", "D"):
        got = {k: tuple(v.shape) for k, v in state[net].items()}
        if shapes[net] != got:
            wrong = sorted(set(shapes[net]) ^ set(got)) or sorted(
                k for k in got if got[k] != shapes[net][k])
            raise SessionError(
                f"the weights of {net} do not fit the config (z_dim={config.z_dim}, "
                f"hidden={config.hidden}, layers={config.layers}): {wrong[0]} "
                + (f"has shape {got[wrong[0]]}, needs {shapes[net][wrong[0]]}"
                   if wrong[0] in got and wrong[0] in shapes[net] else
                   "is missing" if wrong[0] in shapes[net] else "is not one of its weights"))
