"""A sweep's folder: ``sweep.json`` (what it is), ``results.csv`` (a row per run), ``command.txt``.

results.csv is a table of runs, not a run's per-step metrics (that is
:class:`ganviz.core.history.MetricsCsv`): one row per config and seed, the
swept keys, the seed, the final metrics of the headless run (floats as the
shortest text that reads back exactly), its wall seconds and whether it
diverged. Rows are appended as they finish, each written whole and flushed,
and the file is never rewritten, so a killed sweep loses at most the rows in
flight and a rerun of the same command skips the rows already there.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import shlex
from pathlib import Path

from ganviz.core.config import METRIC_NAMES, Config
from ganviz.core.history import EXTRA_NAMES

from .spec import Row, Sweep, SweepError

#: The final metrics of a run, in results.csv's order.
METRICS = tuple(METRIC_NAMES) + tuple(EXTRA_NAMES)
#: results.csv's columns after the swept keys and the seed.
RUN_COLUMNS = METRICS + ("g_mean", "g_std", "device", "steps_per_s", "seconds", "diverged",
                         "error")
SPEC_FILE, RESULTS_FILE, COMMAND_FILE = "sweep.json", "results.csv", "command.txt"


def columns(sweep: Sweep) -> tuple[str, ...]:
    return sweep.keys + ("seed",) + RUN_COLUMNS


def record(row: Row, result: dict | None, seconds: float, error: str = "") -> dict:
    """A results.csv row of ``row`` from a headless run's final metrics (None: it diverged)."""
    out = {k: v for k, v in row.point}
    out["seed"] = row.seed
    result = result or {}
    for name in METRICS:
        out[name] = result.get(name, math.nan)
    for name in ("g_mean", "g_std"):
        out[name] = " ".join(repr(float(x)) for x in result.get(name, ()))
    out["device"] = result.get("device", "")
    out["steps_per_s"] = result.get("steps_per_s", math.nan)
    out["seconds"] = round(seconds, 3)
    out["diverged"] = bool(error)
    out["error"] = error
    return out


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return ""
    return str(value)


def _line(values: list) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_text(v) for v in values])
    return buf.getvalue()


class Results:
    """An open sweep folder: the rows done, and appending new ones.

    Opening checks that the folder holds this sweep or none: another sweep's
    ``sweep.json``, a results.csv without one, or a results.csv that cannot
    be read is a SweepError naming the file and what to do. A torn last line
    (a sweep killed mid-write, no newline at the end) is dropped: that row
    was in flight and runs again. ``write=False`` reads the folder and changes
    nothing (a torn line is only skipped: the sweep may be writing it now).
    """

    def __init__(self, folder: Path, sweep: Sweep, write: bool = True) -> None:
        self.write = write
        self.folder = Path(folder)
        self.sweep = sweep
        self.columns = columns(sweep)
        self.path = self.folder / RESULTS_FILE
        self.done: dict[tuple, dict] = {}
        if self.folder.exists() and not self.folder.is_dir():
            raise SweepError(f"--out {folder} is a file; give a folder")
        spec_path = self.folder / SPEC_FILE
        if spec_path.exists():
            try:
                held = json.loads(spec_path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise SweepError(f"{spec_path} is unreadable ({type(exc).__name__}); "
                                 "choose another --out or remove the folder") from None
            mine = _jsonable(sweep.identity())
            if isinstance(held, dict) and isinstance(held.get("base"), dict):
                # a config key added to ganviz since the folder was written: it had its default
                held["base"] = {**_jsonable(Config().to_dict()), **held["base"]}
            if held != mine:
                diff = [k for k in mine if held.get(k) != mine[k]] \
                    if isinstance(held, dict) else []
                raise SweepError(
                    f"--out {folder} holds another sweep (different: {', '.join(diff) or 'all'}); "
                    "rerun its own command (command.txt) or choose another --out")
        elif self.path.exists():
            raise SweepError(f"--out {folder} has a results.csv but no {SPEC_FILE}: not a "
                             "sweep's folder, or another tool's; choose another --out")
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            raw = self.path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SweepError(f"{self.path} is unreadable ({type(exc).__name__}); fix it, move "
                             "it away or choose another --out") from None
        lines = raw.splitlines(keepends=True)
        if lines and not lines[-1].endswith("\n"):
            torn = lines.pop()  # killed mid-write: that row was in flight and runs again
            if self.write:
                with open(self.path, "r+b") as f:
                    f.truncate(len(raw.encode("utf-8")) - len(torn.encode("utf-8")))
        if not lines:
            return
        planned = {row.key(): row for row in self.sweep.rows}
        reader = csv.reader(lines)
        header = next(reader)
        if tuple(header) != self.columns:
            raise SweepError(f"{self.path} line 1: the columns are not this sweep's "
                             f"({', '.join(self.columns[:len(self.sweep.keys) + 2])}, ...); "
                             "fix it, move it away or choose another --out")
        n = len(self.sweep.keys) + 1
        for number, fields in enumerate(reader, start=2):
            bad = None
            if len(fields) != len(self.columns):
                bad = f"{len(fields)} fields, expected {len(self.columns)}"
            elif tuple(fields[:n]) not in planned:
                bad = "a config and seed this sweep does not have"
            elif tuple(fields[:n]) in self.done:
                bad = "a config and seed already on an earlier line"
            elif fields[self.columns.index("diverged")] not in ("true", "false"):
                bad = "diverged must be true or false"
            else:
                try:
                    for name in METRICS + ("steps_per_s", "seconds"):
                        float(fields[self.columns.index(name)] or "nan")
                except ValueError:
                    bad = f"{name} is not a number"
            if bad:
                raise SweepError(f"{self.path} line {number} is unreadable ({bad}); fix or "
                                 "remove that line, or choose another --out")
            self.done[tuple(fields[:n])] = dict(zip(self.columns, fields))

    def todo(self) -> list[Row]:
        """The rows not yet in results.csv, in the sweep's order."""
        return [r for r in self.sweep.rows if r.key() not in self.done]

    def start(self, command: str, version: str) -> None:
        """Create the folder, sweep.json, results.csv's header and command.txt (kept if there)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            spec = self.folder / SPEC_FILE
            if not spec.exists():
                spec.write_text(json.dumps(_jsonable(self.sweep.identity()), indent=1) + "\n",
                                encoding="utf-8")
            if not self.path.exists() or self.path.stat().st_size == 0:
                self.path.write_text(_line(list(self.columns)), encoding="utf-8")
            with open(self.folder / COMMAND_FILE, "a", encoding="utf-8") as f:
                f.write(f"{command}\n# ganviz {version}\n")
        except OSError as exc:
            raise SweepError(f"cannot write to --out {self.folder}: {exc.strerror or exc}") \
                from None
        self._handle = open(self.path, "a", encoding="utf-8", newline="")

    def append(self, rec: dict) -> None:
        """Write one finished row, whole, and flush it to the OS."""
        line = _line([rec[c] for c in self.columns])
        self._handle.write(line)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        key = tuple(line_fields(line)[:len(self.sweep.keys) + 1])
        self.done[key] = dict(zip(self.columns, line_fields(line)))

    def close(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()


def open_folder(path: Path) -> tuple[Sweep, Results, str]:
    """Read a sweep's folder (or its results.csv) without changing it: (sweep, rows, preset).

    The sweep is rebuilt from ``sweep.json`` and expanded (the same rows in
    the same order as the command that made it); ``preset`` is the base
    preset named in command.txt ("" when none). Raises SweepError, one line,
    naming the file and what is accepted, when the folder is not a sweep's
    or a file in it cannot be read.
    """
    from .spec import Axis, expand

    path = Path(path)
    folder = path.parent if path.is_file() else path
    accepted = f"accepted: a sweep's folder (with {SPEC_FILE}) or its {RESULTS_FILE}"
    if path.is_file() and path.name not in (RESULTS_FILE, SPEC_FILE):
        raise SweepError(f"{path} is not a sweep; {accepted}")
    spec_path = folder / SPEC_FILE
    if not spec_path.is_file():
        raise SweepError(f"{folder} has no {SPEC_FILE}: not a sweep's folder; {accepted}")
    try:
        held = json.loads(spec_path.read_text(encoding="utf-8"))
        base = Config.from_dict({**Config().to_dict(), **held["base"]})
        axes = tuple(Axis(a["key"], a["kind"], tuple(a.get("values") or ()), a.get("low"),
                          a.get("high")) for a in held["axes"])
        sweep = expand(Sweep(base=base, axes=axes, seeds=int(held["seeds"]),
                             steps=int(held["steps"]), every=int(held["every"]),
                             samples=int(held["samples"]), sample_seed=int(held["sample_seed"])))
    except SweepError as exc:
        raise SweepError(f"{spec_path}: {exc}") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SweepError(f"{spec_path} is unreadable ({type(exc).__name__}); {accepted}") \
            from None
    if not (folder / RESULTS_FILE).is_file():
        raise SweepError(f"{folder} has no {RESULTS_FILE} yet (the sweep has written no row)")
    preset = ""
    try:
        words = shlex.split((folder / COMMAND_FILE).read_text(encoding="utf-8").splitlines()[0])
        if "--preset" in words[:-1]:
            preset = words[words.index("--preset") + 1]
    except (OSError, UnicodeDecodeError, ValueError, IndexError):
        pass  # the preset only names where the config came from
    results = Results(folder, sweep, write=False)
    return dataclasses.replace(sweep, preset=preset), results, preset


def line_fields(line: str) -> list[str]:
    return next(csv.reader([line]))


def _jsonable(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))
