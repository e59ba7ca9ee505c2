"""The command line: GUI, headless run, preset list, sessions.

``python main.py lesson.json`` opens a session file (any positional argument
that names an existing file; its content says whether it is a session). Qt's
own options (e.g. ``-platform offscreen``) are handed on to Qt; any other
unknown option is refused with one line, exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

from .core.config import Config, ConfigError, parse_assignment
from .core.devices import check_device
from .core.files import check_writable
from .core.presets import load_preset, preset_names, scan_presets

DEFAULT_PRESET = "ring8"


class UsageError(Exception):
    """A bad command line; the message is printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganviz", description="Watch a toy GAN learn.")
    p.add_argument("--preset", help="scenario to load (see --list-presets)")
    p.add_argument("--list-presets", action="store_true", help="list presets and exit")
    p.add_argument("--headless", action="store_true", help="train without a window")
    p.add_argument("--steps", type=int, help="iterations to train (headless, --screenshot)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. --set loss=wgan-gp")
    p.add_argument("--csv", type=Path, help="headless: write per-step metrics to this CSV")
    p.add_argument("--every", type=int, default=100,
                   help="headless: iterations between measurements (default 100)")
    p.add_argument("--screenshot", type=Path, help="train --steps, save the window as PNG, quit")
    p.add_argument("--window-size", type=_window_size, metavar="WxH",
                   help="window size in pixels, e.g. 1280x720 (a projector)")
    p.add_argument("--present", action="store_true",
                   help="open in presentation mode (large text, the lecture bar)")
    p.add_argument("--compare", metavar="KEY=V1,V2",
                   help="train variants of one key together (2 to 16 values headless, 6 in the "
                        "window, 8 seeds), e.g. --compare loss=minimax,nonsaturating")
    p.add_argument("--save", type=Path, metavar="SESSION.json",
                   help="headless: write a session file of the final state")
    p.add_argument("--dynamics", metavar="GAME",
                   help="the dynamics lab on a toy game: dirac (Dirac-GAN) or bilinear; "
                        "--headless prints its spectra and where --steps end as JSON")
    p.usage = "ganviz [session.json] [options]"
    return p


def _window_size(text: str) -> tuple[int, int]:
    """``"1280x720"`` -> (1280, 720); anything else is one clear error."""
    import re

    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or not (320 <= int(m.group(1)) <= 10_000 and 240 <= int(m.group(2)) <= 10_000):
        raise argparse.ArgumentTypeError(
            f"expected WIDTHxHEIGHT in pixels (at least 320x240), e.g. 1280x720, got {text!r}")
    return int(m.group(1)), int(m.group(2))


#: Qt's own command-line options (QApplication and QGuiApplication), handed on to Qt:
#: those that take a value (``-platform offscreen`` or ``-platform=offscreen``) ...
QT_OPTIONS_WITH_VALUE = frozenset({
    "-style", "-stylesheet", "-platform", "-platformpluginpath", "-platformtheme", "-plugin",
    "-qwindowgeometry", "-qwindowicon", "-qwindowtitle", "-session", "-display", "-geometry",
})
#: ... those that take none ...
QT_FLAGS = frozenset({"-reverse", "-widgetcount", "-nograb", "-dograb", "-sync"})
#: ... and those written only as ``-option=value``.
QT_OPTIONS_WITH_EQUALS = frozenset({"-qmljsdebugger", "-dialogs", "-fontengine", "-darkmode"})


def split_session(unknown: list[str]) -> tuple[Path | None, list[str]]:
    """The session file and Qt's options among the arguments argparse left.

    A positional argument is a session file, whatever its name: it must exist
    (its content is checked when it is read). An option must be one of Qt's
    own (QT_OPTIONS_WITH_VALUE, QT_FLAGS, QT_OPTIONS_WITH_EQUALS); anything
    else is a UsageError (exit 2), so a mistyped option never goes unnoticed.
    """
    sessions, qt_args = [], []
    args = iter(unknown)
    for arg in args:
        if arg.startswith("-") and arg != "-":
            name, eq, _ = arg.partition("=")
            if name in QT_OPTIONS_WITH_VALUE and not eq:
                value = next(args, None)
                if value is None:
                    raise UsageError(f"Qt's option {arg} needs a value")
                qt_args += [arg, value]
            elif (name in QT_OPTIONS_WITH_VALUE or name in QT_OPTIONS_WITH_EQUALS) and eq \
                    or name in QT_FLAGS and not eq:
                qt_args.append(arg)
            else:
                raise UsageError(f"unrecognized arguments: {arg} (see --help)")
            continue
        path = Path(arg)
        if not path.exists():
            raise UsageError(f"no such file: {arg}")
        if path.is_dir():
            raise UsageError(f"{arg} is a folder; give a session file")
        sessions.append(path)
    if len(sessions) > 1:
        raise UsageError(f"one session file at a time, got {', '.join(map(str, sessions))}")
    return (sessions[0] if sessions else None), qt_args


def resolve(args, session=None) -> tuple[Config, int, str]:
    """The run's config, step count and preset name from parsed arguments (and a session)."""
    if session is None:
        name = args.preset or DEFAULT_PRESET
        preset = load_preset(name)
        base, steps = preset.config, preset.steps
    else:
        if args.preset:
            raise UsageError("give a session file or --preset, not both")
        # The session's preset may have been renamed since: its steps are only a default.
        name, base = session.preset, session.config
        steps = load_preset(name if name in preset_names() else DEFAULT_PRESET).steps
    overrides = dict(parse_assignment(text) for text in args.set)
    config = Config.from_dict(overrides, base=base)
    if session is not None and session.state is not None:
        from .core.config import COLD_KEYS

        # Compared as built: a data text written differently may name the same target.
        cold = sorted(k for k in overrides if k in COLD_KEYS and getattr(config, k) != getattr(base, k))
        if cold:
            raise UsageError(f"--set {', '.join(cold)} would not fit the session's weights; "
                             "hot keys (loss, k, learning rates, ...) can be changed")
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be a positive integer, got {args.steps}")
    if args.every < 1:
        raise ConfigError(f"--every must be a positive integer, got {args.every}")
    return config, args.steps or steps, name


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"]:  # `ganviz sweep ...`: the sweep's own command line
        from .sweep.cli import main as sweep_main

        return sweep_main(argv[1:])
    try:
        args, unknown = build_parser().parse_known_args(argv)
        if args.list_presets:
            return _list_presets()
        path, qt_args = split_session(unknown)
        if args.headless and qt_args:
            raise UsageError(f"unrecognized arguments: {' '.join(qt_args)}")
        toy = _toy(args, path)
        if toy is not None:
            if args.compare is not None:
                raise UsageError("--compare does not apply to --dynamics (a toy game)")
            return _dynamics(args, qt_args, *toy)
        if args.save is not None and not args.headless:
            raise UsageError("--save is for --headless runs; in the window use File > Save session")
        session = None
        if path is not None:
            from .core.session import load_session

            session = load_session(path)
        config, steps, name = resolve(args, session)
        if session is not None:  # read once: the --set values ride on top of it
            session = dataclasses.replace(session, config=config)
        check_device(config.device)  # before a window or a run starts
        for flag, out in (("--save", args.save), ("--csv", args.csv), ("--screenshot", args.screenshot)):
            if out is not None:  # found now, not after the whole run
                check_writable(out, flag)
        compare = args.compare
        if compare is None and session is None:
            preset = load_preset(name)
            compare = preset.compare
        if compare is not None:
            if session is not None:
                raise UsageError("--compare starts from a preset, not a session file")
            if not args.headless:  # the window's compare mode: checked before it opens
                from .core.variants import most_values, parse_compare

                parse_compare(compare, config, most=most_values(compare.partition("=")[0].strip(),
                                                                window=True))
            if args.headless:
                if args.save is not None:
                    raise UsageError("--save is for single runs; a comparison writes --csv")
                from .core.variants import parse_compare

                key, configs = parse_compare(compare, config)
                return _compare(key, configs, steps, args)
        if args.headless:
            return _headless(config, steps, name, args, session)
    except (UsageError, ConfigError, FloatingPointError, OSError) as exc:
        print(f"ganviz: error: {exc}", file=sys.stderr)
        return 2
    from .app.main_window import run_gui  # Qt only when a window is wanted

    remembered = args.preset is None and path is None and not args.set
    steps = args.steps
    if session is not None and steps is not None:
        steps += session.step  # as headless: --steps more from the session's step
    return run_gui(config, name or None, qt_args, steps=steps, screenshot=args.screenshot,
                   session=session, session_path=path, remembered=remembered,
                   window_size=args.window_size, present=args.present, compare=compare)


def _headless(config: Config, steps: int, preset: str, args, session=None) -> int:
    from .runner.fixed import Interrupted, run_fixed

    history = None
    if session is not None and session.history:
        history = (session.history, session.measured)
    try:
        result = run_fixed(config, steps, csv_path=args.csv, every=args.every,
                           progress=sys.stderr, state=session.state if session else None,
                           save=args.save, preset=preset, history=history)
    except Interrupted as exc:
        saved = f"; saved {args.save}" if args.save is not None else ""
        print(f"ganviz: {exc}{saved}", file=sys.stderr)
        return 130
    if args.save is not None:
        print(f"saved {args.save}", file=sys.stderr)
    print(json.dumps(result))
    return 0


def _toy(args, path):
    """(game, start, steps) when the command line asks for the dynamics lab, else None.

    ``--dynamics GAME`` or a preset with a ``dynamics`` field; ``--set`` takes the
    keys the toy reads (dynamics.CONFIG_KEYS) and its own (theta0, psi0, psi_clip, momentum).
    """
    from .core import dynamics

    preset = load_preset(args.preset) if args.preset else None
    if args.dynamics is None and (preset is None or not preset.dynamics):
        return None
    if path is not None:
        raise UsageError("--dynamics takes no session file")
    for flag in ("save", "screenshot" if args.headless else None):
        if flag and getattr(args, flag) is not None:
            raise UsageError(f"--{flag} does not apply to --dynamics")
    if preset is not None and not preset.dynamics:
        raise UsageError(f"preset {preset.name!r} is an MLP run, not a toy game; "
                         "give --dynamics alone or a paper-... preset")
    kind = args.dynamics or preset.dynamics
    if kind not in dynamics.DYNAMICS:
        raise UsageError(f"unknown dynamics {kind!r}; accepted: {', '.join(dynamics.DYNAMICS)}")
    if preset is not None and kind != preset.dynamics:
        raise UsageError(f"preset {preset.name!r} is the {preset.dynamics} game, not {kind}")
    start = dict(zip(("theta0", "psi0"), preset.start if preset else (1.0, 1.0)))
    start["psi_clip"] = preset.psi_clip if preset else None
    start["momentum"] = preset.momentum if preset else None  # None: the run's sgd
    overrides = {}
    for text in args.set:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if key in dynamics.OWN_KEYS and sep:
            try:
                start[key] = float(raw)
            except ValueError:
                start[key] = math.nan
            if not math.isfinite(start[key]):
                raise ConfigError(f"{key} must be a finite number, got {raw.strip()!r}")
            continue
        key, value = parse_assignment(text)
        if key not in dynamics.CONFIG_KEYS:
            raise UsageError(f"--set {key} does not apply to --dynamics; accepted: "
                             f"{', '.join(dynamics.CONFIG_KEYS + dynamics.OWN_KEYS)}")
        overrides[key] = value
    if kind == "bilinear" and "loss" in overrides:
        raise UsageError("the bilinear game's objective is theta*phi; --set loss is for "
                         "--dynamics dirac")
    base = preset.config if preset else Config.from_dict(dynamics.DEFAULTS)
    config = Config.from_dict(overrides, base=base)
    game = dynamics.Game.from_config(config, kind, start.pop("psi_clip"), start.pop("momentum"))
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be a positive integer, got {args.steps}")
    steps = args.steps or (preset.steps if preset else 500)
    for flag, out in (("--csv", args.csv), ("--screenshot", args.screenshot)):
        if out is not None:
            check_writable(out, flag)
    return game, (start["theta0"], start["psi0"]), steps


def _dynamics(args, qt_args, game, start, steps) -> int:
    """The dynamics lab: one JSON object (headless) or its window."""
    from .core import dynamics

    if not args.headless:
        from .app.dynamics import run_lab

        return run_lab(game, start, steps, qt_args, screenshot=args.screenshot)
    print(json.dumps(dynamics.summary(game, *start, steps)))
    if args.csv is not None:
        dynamics.write_csv(args.csv, dynamics.trajectory(game, *start, steps))
    return 0


def _compare(key: str, configs: list, steps: int, args) -> int:
    from .runner.compare import run_compare

    from .runner.fixed import Interrupted

    try:
        result = run_compare(key, configs, steps, csv_path=args.csv, every=args.every,
                             progress=sys.stderr)
    except Interrupted as exc:
        written = f"; wrote {args.csv}" if args.csv is not None else ""
        print(f"ganviz: {exc}{written}", file=sys.stderr)
        return 130
    print(json.dumps(result))
    return 0


def _list_presets() -> int:
    """Print every readable preset; name the broken ones on stderr. Exit 0 either way."""
    presets, broken = scan_presets()
    try:
        for p in presets:
            mark = f"  [compare {p.compare.partition('=')[0]}]" if p.compare else ""
            print(f"{p.name:22s} {p.title}{mark}")
        sys.stdout.flush()
    except BrokenPipeError:  # `ganviz --list-presets | head -2`: the reader left, as intended
        # Python flushes stdout again at exit: point it at devnull so that flush is quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 0
    for name, reason in broken.items():
        print(f"ganviz: preset {name!r} is broken and not listed: {reason}", file=sys.stderr)
    return 0
