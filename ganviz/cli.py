"""The command line (DESIGN.md section 5): GUI, headless run, preset list."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .core.config import Config, ConfigError, parse_assignment
from .core.presets import load_preset, preset_names

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
    return p


def resolve(args) -> tuple[Config, int, str]:
    """The run's config, step count and preset name from parsed arguments."""
    name = args.preset or DEFAULT_PRESET
    preset = load_preset(name)
    overrides = dict(parse_assignment(text) for text in args.set)
    config = Config.from_dict(overrides, base=preset.config)
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be a positive integer, got {args.steps}")
    if args.every < 1:
        raise ConfigError(f"--every must be a positive integer, got {args.every}")
    return config, args.steps or preset.steps, name


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args, qt_args = build_parser().parse_known_args(argv)
        if args.list_presets:
            for name in preset_names():
                print(f"{name:22s} {load_preset(name).title}")
            return 0
        if args.headless and qt_args:
            raise UsageError(f"unrecognized arguments: {' '.join(qt_args)}")
        config, steps, name = resolve(args)
        if args.headless:
            return _headless(config, steps, args)
    except (UsageError, ConfigError, FloatingPointError, OSError) as exc:
        print(f"ganviz: error: {exc}", file=sys.stderr)
        return 2
    from .app.main_window import run_gui  # Qt only when a window is wanted

    return run_gui(config, name, qt_args, steps=args.steps, screenshot=args.screenshot)


def _headless(config: Config, steps: int, args) -> int:
    from .core.headless import run_headless

    result = run_headless(config, steps, csv_path=args.csv, every=args.every, progress=sys.stderr)
    print(json.dumps(result))
    return 0
