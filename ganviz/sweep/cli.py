"""``python -m ganviz.sweep`` / ``ganviz sweep``: run a sweep, write its table and picture.

Bad input (an unknown key, an axis of one value, an invalid value, a folder
holding another sweep, an unreadable results.csv, Ray absent or unreachable)
is one line on stderr and exit status 2, before anything runs and without
touching a row already written.
"""

from __future__ import annotations

import argparse
import math
import shlex
import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ganviz.core.config import Config, ConfigError, parse_assignment

from .results import METRICS, RESULTS_FILE, Results
from .spec import Sweep, SweepError, expand, parse_grid, parse_random

#: Targets with modes: their default metric is the modes captured, the others' JS.
MIXTURES = frozenset({"ring8", "grid25", "bimodal", "trimodal"})
PHASE_FILE = "phase.png"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise SweepError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="ganviz sweep", description="Run a sweep of headless runs: results.csv "
                "(a row per config and seed) and phase.png (the metric over the first two axes).")
    base = p.add_mutually_exclusive_group()
    base.add_argument("--preset", help="the base config's preset (default ring8)")
    base.add_argument("--session", type=Path, metavar="FILE",
                      help="the base config from a session file (its config only; runs start fresh)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the base config (repeatable), e.g. --set hidden=32")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2,...",
                   help="an axis of listed values (repeatable)")
    p.add_argument("--random", action="append", default=[],
                   metavar="KEY=loguniform:A:B|uniform:A:B|choice:a,b",
                   help="an axis drawn at random, --samples times (repeatable)")
    p.add_argument("--samples", type=int, default=0, help="points drawn for the --random axes")
    p.add_argument("--sample-seed", type=int, default=0,
                   help="seed of the --random draws (default 0)")
    p.add_argument("--seeds", type=int, default=1,
                   help="runs per point: the base seed and the K-1 after it (default 1)")
    p.add_argument("--steps", type=int, help="iterations per run (default: the preset's)")
    p.add_argument("--every", type=int, default=100,
                   help="iterations between measurements (default 100)")
    p.add_argument("--metric", help="metric of the picture and summary (default js; "
                   "modes_captured for mixtures)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the sweep's folder")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: a process per core (default); ray: Ray Tune")
    p.add_argument("--jobs", type=int, help="local: processes (default: the cores)")
    p.add_argument("--members", type=int, metavar="N",
                   help="local: most runs trained as one batch of the batched engine (default "
                   "32 on the CPU, 256 on CUDA; 1 runs each row alone)")
    p.add_argument("--address", help="ray: the cluster (default RAY_ADDRESS, else a local "
                   "instance)")
    return p


def make_sweep(args) -> Sweep:
    """The expanded, validated sweep the arguments describe."""
    from ganviz.core.presets import load_preset, preset_names

    if args.session is not None:
        from ganviz.core.session import load_session

        session = load_session(args.session)
        name = session.preset
        base = session.config
        steps = load_preset(name if name in preset_names() else "ring8").steps
    else:
        name = args.preset or "ring8"
        preset = load_preset(name)
        base, steps = preset.config, preset.steps
    try:
        base = Config.from_dict(dict(parse_assignment(t) for t in args.set), base=base)
    except ConfigError as exc:
        raise SweepError(f"--set: {exc}") from None
    axes = tuple(parse_grid(t) for t in args.grid) + tuple(parse_random(t) for t in args.random)
    if args.samples < 0:
        raise SweepError(f"--samples must be a positive integer, got {args.samples}")
    sweep = Sweep(base=base, axes=axes, seeds=args.seeds,
                  steps=args.steps if args.steps is not None else steps, every=args.every,
                  samples=args.samples, sample_seed=args.sample_seed, preset=name)
    return expand(sweep)


def pick_metric(args, sweep: Sweep) -> str:
    metric = args.metric or ("modes_captured" if sweep.base.data in MIXTURES else "js")
    accepted = [m for m in METRICS if m != "step"]
    if metric not in accepted:
        raise SweepError(f"unknown --metric {metric!r}; accepted: {', '.join(accepted)}")
    return metric


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    results = None
    try:
        args = build_parser().parse_args(argv)
        sweep = make_sweep(args)
        metric = pick_metric(args, sweep)
        for option in ("jobs", "members"):
            value = getattr(args, option)
            if value is not None and value < 1:
                raise SweepError(f"--{option} must be a positive integer, got {value}")
        if args.backend == "ray":
            from .ray_backend import check_ray

            check_ray()  # before the folder is touched
        results = Results(args.out, sweep)
        todo = results.todo()
        from ganviz import __version__

        results.start("ganviz sweep " + shlex.join(argv), __version__)
        before = len(sweep.rows) - len(todo)
        t0 = time.perf_counter()
        bar = Progress(sys.stderr, len(todo))
        batches = _batches(args, sweep, todo)
        try:
            with _sigterm_as_interrupt():
                for records in batches:
                    for rec in records:
                        results.append(rec)
                    bar.update(len(records))
        finally:
            batches.close()  # the pool or Ray stops here, whatever ended the loop
        bar.close()
        _finish(args, sweep, results, metric, before, len(todo), time.perf_counter() - t0)
        return 0
    except (SweepError, ConfigError) as exc:
        print(f"ganviz sweep: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # a run failed for a reason other than divergence
        kept = len(results.done) if results is not None else 0
        print(f"ganviz sweep: error: {exc}; {kept} rows are in results.csv", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        kept = len(results.done) if results is not None else 0
        print(f"\nganviz sweep: interrupted; {kept} rows are in results.csv: rerun the same "
              "command to go on", file=sys.stderr)
        return 130
    finally:
        if results is not None:
            results.close()


def _batches(args, sweep: Sweep, todo):
    """Each finished batch's records, from the chosen backend."""
    from .local import default_jobs, plan, run_local

    if not todo:  # all done before: no pool, no Ray instance
        return
    jobs = args.jobs or default_jobs()
    if args.backend == "ray":
        from .ray_backend import run_ray

        by_point: dict = {}
        for row in todo:  # a trial is all the seeds of a config: Ray's overhead once per point
            by_point.setdefault(row.point, []).append(row)
        yield from run_ray(list(by_point.values()), sweep.steps, sweep.every,
                           address=args.address, jobs=jobs)
        return
    yield from run_local(plan(todo, jobs, args.members), sweep.steps, sweep.every, jobs)


def _finish(args, sweep, results, metric, before, ran, seconds) -> None:
    from .phase import best_and_worst, cells, describe, draw_phase

    phase = Path(args.out) / PHASE_FILE
    title = f"{sweep.preset or 'sweep'}: {metric}, {sweep.steps:,} steps per run"
    draw_phase(phase, sweep, results.done, metric, title)
    diverged = sum(1 for f in results.done.values() if f["diverged"] == "true")
    print(f"sweep: {len(results.done)} rows ({ran} run now in {seconds:.0f} s, {before} from "
          f"before); {diverged} diverged")
    best, worst = best_and_worst(cells(sweep, results.done, metric), metric)
    if best is not None:
        print(f"best  {metric}: {describe(best)}")
        print(f"worst {metric}: {describe(worst)}")
    print(f"wrote {Path(args.out) / RESULTS_FILE} and {phase}")


@contextmanager
def _sigterm_as_interrupt():
    """SIGTERM ends the sweep as Ctrl+C does: the pool stops, the rows written stay."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class Progress:
    """Rows done, as a bar with the time left on a terminal; a line per 10% otherwise."""

    def __init__(self, stream: IO | None, total: int) -> None:
        self.stream, self.total, self.done = stream, max(1, total), 0
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.t0 = time.perf_counter()
        self.decile = 0

    def update(self, n: int) -> None:
        self.done += n
        if self.stream is None:
            return
        elapsed = time.perf_counter() - self.t0
        left = elapsed / self.done * (self.total - self.done) if self.done else math.nan
        if self.tty:
            filled = int(30 * self.done / self.total)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/"
                              f"{self.total} runs, {_clock(elapsed)} so far, "
                              f"{_clock(left)} left ")
            self.stream.flush()
        elif self.done * 10 // self.total > self.decile or self.done == self.total:
            self.decile = self.done * 10 // self.total
            self.stream.write(f"runs {self.done}/{self.total} ({_clock(left)} left)\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty and self.done:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
