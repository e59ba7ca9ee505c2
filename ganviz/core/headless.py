"""Training without a window: fixed step count, metrics to CSV, final metrics as a dict.

Measurements are taken every ``every`` iterations (a schedule in steps, not in
wall time), so the same config and seed give the same file, run after run.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import IO

import numpy as np
import torch

from .config import METRIC_NAMES, Config
from .trainer import Engine, set_threads
from .probe import Probe

#: Column order of the metrics CSV (DESIGN.md section 3, then the extras).
EXTRA_NAMES = ("kl", "value", "value_opt")
_MEASURED = ("js", "w1", "modes_captured", "modes_total", "high_quality") + EXTRA_NAMES


def run_headless(
    config: Config,
    steps: int,
    csv_path: Path | None = None,
    every: int = 100,
    progress: IO | None = None,
    state: dict | None = None,
    save: Path | None = None,
) -> dict:
    """Train ``steps`` iterations of ``config``; return the final metrics.

    Parameters
    ----------
    config : Config
        The run.
    steps : int
        Iterations (G steps) to train.
    csv_path : Path, optional
        Write one row per iteration with METRIC_NAMES and EXTRA_NAMES as
        columns; measured columns are filled every ``every`` iterations and at
        the last one, empty elsewhere.
    every : int
        Iterations between measurements.
    progress : file, optional
        Where progress goes (stderr in the command line); a bar when it is a
        terminal, a line per 10% otherwise.
    state : dict, optional
        Start from this :meth:`Engine.state` (a session's); ``steps`` more
        iterations are trained from its step on.
    save : Path, optional
        Write a session file (config and exact state) at the end.

    Returns
    -------
    dict
        Every metric name at the last step, plus ``g_mean``/``g_std`` (per
        axis, of 10^4 generated samples), ``device``, ``steps_per_s`` and ``config``.
    """
    set_threads()
    engine = Engine(config)
    if state is not None:
        engine.load_state(state)
    probe = Probe(engine)
    start = engine.step
    end = start + steps
    writer, handle = None, None
    if csv_path is not None:
        handle = open(csv_path, "w", newline="", encoding="utf-8")
        writer = csv.writer(handle)
        writer.writerow(METRIC_NAMES + EXTRA_NAMES)
    bar = _Progress(progress, steps)
    t0 = time.perf_counter()
    train_time = 0.0
    measured: dict = {}
    try:
        while engine.step < end:
            t = time.perf_counter()
            n = min(every - engine.step % every, end - engine.step)
            for _ in range(n):
                engine.train_step()
            train_time += time.perf_counter() - t
            history = engine.drain()
            bad = [k for k, v in history.items() if not np.all(np.isfinite(v))]
            measured = probe.measure(force=True)["metrics"] if not bad else {}
            if writer is not None:
                _write_rows(writer, history, measured)
            bar.update(engine.step - start)
            if bad:
                raise FloatingPointError(
                    f"training diverged by step {engine.step}: {bad[0]} is not finite; "
                    "lower the learning rate (lr_d, lr_g)"
                )
    finally:
        bar.close()
        if handle is not None:
            handle.close()
    if save is not None:
        from .session import Session, save_session

        save_session(save, Session(engine.config, step=engine.step, state=engine.state(full=True)))
    with torch.no_grad():
        fake = engine.G(probe.z_eval).double()
    out = {name: None for name in METRIC_NAMES + EXTRA_NAMES}
    out.update({k: float(v[-1]) for k, v in history.items() if k != "step"})
    out.update(measured)
    out["step"] = engine.step
    out["g_mean"] = fake.mean(0).tolist()
    out["g_std"] = fake.std(0).tolist()
    out["device"] = str(engine.device)
    out["steps_per_s"] = round(steps / train_time, 1) if train_time > 0 else None
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["config"] = engine.config.to_dict()
    return out


def _write_rows(writer, history: dict, measured: dict) -> None:
    n = len(history["step"])
    for i in range(n):
        row = []
        for name in METRIC_NAMES + EXTRA_NAMES:
            if name in history:
                row.append(repr(float(history[name][i])) if name != "step" else int(history[name][i]))
            elif i == n - 1 and measured.get(name) is not None:
                row.append(repr(float(measured[name])))
            else:
                row.append("")
        writer.writerow(row)


class _Progress:
    """A plain progress bar on a terminal; a line every 10% to a file or pipe."""

    def __init__(self, stream: IO | None, total: int) -> None:
        self.stream, self.total = stream, total
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.t0 = time.perf_counter()
        self.last_decile = 0

    def update(self, done: int) -> None:
        if self.stream is None:
            return
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        if self.tty:
            filled = int(30 * done / self.total)
            self.stream.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} {rate:.0f} steps/s"
            )
            self.stream.flush()
        elif done * 10 // self.total > self.last_decile or done == self.total:
            self.last_decile = done * 10 // self.total
            self.stream.write(f"step {done}/{self.total} ({rate:.0f} steps/s)\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()

