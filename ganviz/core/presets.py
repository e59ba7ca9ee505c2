"""Preset scenarios: small JSON files in ``ganviz/presets`` (package data), one per scenario.

A preset file holds a ``config`` (any subset of the config keys), a suggested
number of ``steps``, and text for the GUI: ``title``, ``explanation`` (what
it shows), ``look_for`` and ``next`` (a suggested next change), and an
optional ``order``: presets are listed by it (the story they tell), then by name.

A preset with ``"dynamics": "dirac"`` or ``"bilinear"`` is a toy game of the dynamics
lab (ganviz/core/dynamics.py), not an MLP run: its config's loss, update, k, rates and
regularisers define the game; ``start`` ([theta0, psi0], default [1, 1]) and
``psi_clip`` (optional) the trajectory; ``momentum`` (optional) the optimizer's: its
sgd is the run's, momentum 0.9, unless given (0: the plain gradient steps of the
papers' toys); ``pass`` ({"distance": [low, high]}) the range the distance from the
equilibrium must end in after ``steps`` (tests check it).

A preset's target can be any ``data`` form: a name, ``mixture:SPEC`` (the whole
target is in the text) or its own points, written ``"data": "points:inline"``
in the config with the points beside it, ``"points": [[x, y], ...]`` (or
``[x, ...]`` in 1-D); :func:`preset_doc` writes that form.

A comparison preset adds ``"compare": {"key": K, "values": [V1, V2, ...]}``:
the variants of its config in K (:mod:`ganviz.core.variants`), trained
together; its text speaks of all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .config import Config, ConfigError
from .points import PREFIX as _POINTS, register_points, resolve_points, split_fit

PRESET_DIR = Path(__file__).resolve().parents[1] / "presets"
_TEXT_KEYS = ("title", "explanation", "look_for", "next")
#: The ``data`` of a preset that carries its own points in a ``"points"`` list.
INLINE = "points:inline"


@dataclass(frozen=True)
class Preset:
    """A named scenario: a config plus the words that explain it."""

    name: str
    config: Config
    steps: int
    title: str
    explanation: str
    look_for: str = ""
    next: str = ""
    order: int = 1 << 30  # files without one go last
    dynamics: str = ""  # "dirac" or "bilinear": a toy game of the dynamics lab
    start: tuple[float, float] = (1.0, 1.0)  # the toy's (theta0, psi0)
    psi_clip: float | None = None  # the toy's clip of psi after every update
    momentum: float | None = None  # the toy's sgd momentum (None: the run's 0.9; 0: plain steps)
    passes: tuple[float, float] | None = None  # the toy's final distance must lie in it
    compare: str | None = None  # "KEY=V1,V2,...": a comparison preset's variants

    def variants(self) -> tuple[str, list[Config]] | None:
        """A comparison preset's (key, configs); None for a single run."""
        if self.compare is None:
            return None
        from .variants import parse_compare

        return parse_compare(self.compare, self.config)


def scan_presets(directory: Path = PRESET_DIR) -> tuple[list[Preset], dict[str, str]]:
    """Read every preset file in ``directory``; one broken file spoils nothing else.

    Returns
    -------
    presets : list of Preset
        The readable presets, in story order (``order``), then by name.
    broken : dict
        File name stem -> the one-line reason it cannot be read, by name.
    """
    presets, broken = [], {}
    for path in sorted(Path(directory).glob("*.json")):
        try:
            presets.append(read_preset(path))
        except ConfigError as exc:
            broken[path.stem] = str(exc)
    presets.sort(key=lambda p: (p.order, p.name))
    return presets, broken


def preset_names(directory: Path = PRESET_DIR) -> list[str]:
    """Names of the readable presets in ``directory``, in story order (``order``), then by name."""
    return [p.name for p in scan_presets(directory)[0]]


def load_preset(name: str, directory: Path = PRESET_DIR) -> Preset:
    """The preset called ``name``; ConfigError names it and lists those that exist."""
    path = Path(directory) / f"{name}.json"
    if not name or Path(name).name != name or not path.is_file():  # a name, never a path
        names = ", ".join(preset_names(directory)) or "(none found)"
        raise ConfigError(f"unknown preset {name!r}; accepted: {names}")
    return read_preset(path)


#: The largest JSON file read (bytes): a session of the largest model is well below it,
#: and a file above it is refused before it is read.
MAX_JSON_BYTES = 256 * 1024 * 1024


def read_json(path: Path, kind: str, error: type[ConfigError] = ConfigError):
    """The JSON in ``path``; every failure to read it raises ``error`` with one line naming ``kind``.

    Refused: a missing or unreadable file, a folder, a file above MAX_JSON_BYTES
    (before reading it), invalid UTF-8, invalid JSON, and nesting deeper than
    Python's recursion limit.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise error(f"cannot read {kind} {path}: it is a folder")
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise error(f"{kind} {path} is {size / 2**20:,.0f} MB; the largest accepted is "
                        f"{MAX_JSON_BYTES // 2**20} MB")
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)  # a file that grew since stat() is still bounded
        if len(raw) > MAX_JSON_BYTES:
            raise error(f"{kind} {path} is larger than {MAX_JSON_BYTES // 2**20} MB")
        return json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise error(f"cannot read {kind} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{kind} {path} is not UTF-8 text (byte {exc.start}): not a JSON file") from None
    except json.JSONDecodeError as exc:
        raise error(f"{kind} {path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise error(f"{kind} {path} is nested too deeply to be a ganviz file") from None
    except MemoryError:
        raise error(f"{kind} {path} does not fit in memory") from None


def read_preset(path: Path) -> Preset:
    """Read and validate one preset file; ConfigError says what is wrong with it."""
    path = Path(path)
    raw = read_json(path, "preset file")
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
        raise ConfigError(f"preset file {path} needs an object with a \"config\" object")
    try:
        values = dict(raw["config"])
        data, fit = split_fit(values["data"]) if isinstance(values.get("data"), str) else ("", "")
        if data == INLINE:  # with its fit, if any: points:inline@gmm
            if "points" not in raw:
                raise ConfigError(f'"data": "{INLINE}" needs a "points" list beside "config"')
            found = register_points(raw["points"], "inline")
            values["data"] = found.data + ("" if fit == "kde" else f"@{fit}")
        config = Config.from_dict(values)
    except ConfigError as exc:
        raise ConfigError(f"preset file {path}: {exc}") from None
    steps = raw.get("steps", 3000)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"preset file {path}: steps must be a positive integer, got {steps!r}")
    order = raw.get("order", 1 << 30)
    if isinstance(order, bool) or not isinstance(order, int):
        raise ConfigError(f"preset file {path}: order must be an integer, got {order!r}")
    text = {k: raw.get(k, "") for k in _TEXT_KEYS}
    bad = [k for k, v in text.items() if not isinstance(v, str)]
    if bad:
        raise ConfigError(f"preset file {path}: {', '.join(bad)} must be text")
    compare = raw.get("compare")
    if compare is not None:
        from .variants import most_values, parse_compare

        if (not isinstance(compare, dict) or not isinstance(compare.get("key"), str)
                or not isinstance(compare.get("values"), list)):
            raise ConfigError(f"preset file {path}: compare must be "
                              "{\"key\": name, \"values\": [value, ...]}")
        compare = f"{compare['key']}=" + ",".join(str(v) for v in compare["values"])
        try:
            parse_compare(compare, config, most=most_values(compare.partition("=")[0], window=True))
        except ConfigError as exc:
            raise ConfigError(f"preset file {path}: {exc}") from None
    toy = _read_toy(path, raw, config) if "dynamics" in raw else {}
    return Preset(name=path.stem, config=config, steps=steps, order=order, compare=compare,
                  **text, **toy)


def _read_toy(path: Path, raw: dict, config: Config) -> dict:
    """The dynamics fields of a preset file, checked by building its game."""
    from .dynamics import Game

    clip = raw.get("psi_clip")
    if clip is not None and (isinstance(clip, bool) or not isinstance(clip, (int, float))):
        raise ConfigError(f"preset file {path}: psi_clip must be a number")
    passes = raw.get("pass")
    if passes is not None:
        if not isinstance(passes, dict) or set(passes) != {"distance"}:
            raise ConfigError(f'preset file {path}: pass must be {{"distance": [low, high]}}')
        passes = _numbers(path, "pass distance", passes["distance"])
    momentum = raw.get("momentum")
    if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, (int, float))):
        raise ConfigError(f"preset file {path}: momentum must be a number")
    try:
        Game.from_config(config, raw["dynamics"], clip, momentum)
    except ConfigError as exc:
        raise ConfigError(f"preset file {path}: {exc}") from None
    return dict(dynamics=raw["dynamics"], start=_numbers(path, "start", raw.get("start", [1, 1])),
                psi_clip=None if clip is None else float(clip), passes=passes,
                momentum=None if momentum is None else float(momentum))


def _numbers(path: Path, key: str, value) -> tuple[float, float]:
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ConfigError(f"preset file {path}: {key} must be a list of two numbers")
    return float(value[0]), float(value[1])


def preset_doc(config: Config, steps: int = 3000, **text: str) -> dict:
    """The JSON content of a preset file for ``config`` (write it with ``json.dump``).

    A ``points:`` target is written inline (``"data": "points:inline"`` and a
    ``"points"`` list of exact numbers), so the preset stands alone. ``text``:
    title, explanation, look_for, next.
    """
    values = config.to_dict()
    doc: dict = {**{k: text[k] for k in _TEXT_KEYS if k in text}, "steps": int(steps)}
    if config.data.startswith(_POINTS):
        found = resolve_points(config.data)
        pts = found.points
        values["data"] = INLINE + ("" if found.fit == "kde" else f"@{found.fit}")
        doc["points"] = (pts[:, 0] if pts.shape[1] == 1 else pts).tolist()
    doc["config"] = values
    return doc
