"""A run of a fixed number of iterations in this process, start to end: ``--headless``.

The same loop as the window's, on a schedule in iterations instead of wall
time, so the same config and seed give the same numbers and the same file,
run after run, whatever the machine's speed or load. Measurements are taken
every ``every`` iterations and at the last one. Ctrl+C or SIGTERM ends the
run after the current iteration, and what was asked for (the CSV so far, the
session) is still written.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable

from ganviz.core.config import Config
from ganviz.core.events import Diverged, Finished, Started, Stopped
from ganviz.core.history import History, MetricsCsv, measured_columns
from ganviz.core.loop import DivergencePolicy, Inbox, Schedule, train


class Interrupted(Exception):
    """The run was stopped by Ctrl+C or SIGTERM at ``step``; what was asked for is written."""

    def __init__(self, step: int) -> None:
        super().__init__(f"interrupted at step {step:,}")
        self.step = step


def run_fixed(
    config: Config,
    steps: int,
    *,
    csv_path: Path | None = None,
    every: int = 100,
    progress: IO | None = None,
    state: dict | None = None,
    save: Path | None = None,
    preset: str = "",
    history: tuple[dict, dict] | None = None,
) -> dict:
    """Train ``steps`` iterations of ``config``; return the final metrics.

    Parameters
    ----------
    config : Config
        The run.
    steps : int
        Iterations (G steps) to train, from the state's step on when ``state`` is given.
    csv_path : Path, optional
        The metrics CSV (:class:`~ganviz.core.history.MetricsCsv`): one row
        per iteration, measured columns every ``every`` iterations and at the last.
    every : int
        Iterations between measurements.
    progress : file, optional
        Where progress goes (stderr in the command line): a bar when it is a
        terminal, a line per 10% otherwise.
    state : dict, optional
        An engine state to start from (a session's).
    save : Path, optional
        Write a session file (config, exact state, preset and history) at the
        end, also when interrupted.
    preset : str
        The preset the run came from, recorded in the session file.
    history : (dict, dict), optional
        The per-iteration and measured columns a session brought, continued here.

    Returns
    -------
    dict
        The :class:`~ganviz.core.events.Finished` metrics (every metric name
        at the last step, ``g_mean``/``g_std``, ``device``, ``config``) plus
        ``steps_per_s`` and ``seconds``; when p_data is estimated from points,
        ``p_data`` says how (:func:`ganviz.core.datakey.describe_p_data`).

    Raises
    ------
    FloatingPointError
        The run diverged; the message says at which step, what and the likely
        cause. The CSV ends at that step.
    Interrupted
        Ctrl+C or SIGTERM; the CSV and the session were written.
    """
    from ganviz.core.trainer import Engine

    engine = Engine(config)
    start = int(state.get("counters", {}).get("step", 0)) if state is not None else 0
    kept = History()
    if history is not None:
        kept.load(*history, run_id=0)  # the run_id train stamps: add() goes on from it
    inbox = Inbox()
    bar = _Progress(progress, steps)
    t0 = time.perf_counter()
    handle = writer = None
    result: dict | None = None
    try:
        events = train(config, inbox, schedule=Schedule.every_steps(every),
                       policy=DivergencePolicy(on_divergence="stop"), max_steps=start + steps,
                       state=state, engine=engine)
        with stop_on_signals(inbox.stop):
            for event in events:
                snap = event.snapshot
                if isinstance(event, Started) and csv_path is not None:
                    # Opened once the state loaded: a refused state leaves no empty file.
                    handle = open(csv_path, "w", newline="", encoding="utf-8")
                    writer = MetricsCsv(handle)
                if not isinstance(event, Started):
                    kept.add(snap)
                    if writer is not None:
                        writer.write(snap.history, measured_columns(snap))
                bar.update(snap.step - start)
                if isinstance(event, Diverged):
                    raise FloatingPointError(
                        f"training diverged at step {event.step:,}: {event.quantity} is not "
                        f"finite; likely cause: {event.cause}")
                if isinstance(event, Finished):
                    result = dict(event.metrics)
                elif isinstance(event, Stopped):
                    raise Interrupted(snap.step)
    except Interrupted:
        _save(save, engine, preset, kept)
        raise
    finally:
        bar.close()
        if handle is not None:
            handle.close()
    _save(save, engine, preset, kept)
    seconds = time.perf_counter() - t0
    # A target estimated from points says so, from how many and by which rule.
    from ganviz.core.datakey import with_p_data

    result = with_p_data(result, config.data)
    result["steps_per_s"] = round(steps / seconds, 1) if seconds > 0 else None
    result["seconds"] = round(seconds, 2)
    return result


def _save(path: Path | None, engine, preset: str, history: History) -> None:
    if path is None:
        return
    from ganviz.core.session import Session, save_session

    steps, measured = history.columns()
    save_session(path, Session(engine.config, step=engine.step, state=engine.state(full=True),
                               preset=preset, history=steps, measured=measured))


@contextmanager
def stop_on_signals(stop: Callable[[], None]):
    """Ctrl+C and SIGTERM call ``stop`` (main thread only): the loops end after their step."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = lambda signum, frame: stop()  # noqa: E731
    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


class _Progress:
    """A progress bar with the time left on a terminal; a line every 10% to a file or pipe."""

    def __init__(self, stream: IO | None, total: int) -> None:
        self.stream, self.total = stream, max(1, total)
        self.tty = bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())
        self.t0 = time.perf_counter()
        self.last_decile = 0

    def update(self, done: int) -> None:
        if self.stream is None or done <= 0:
            return
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        rate = done / elapsed
        if self.tty:
            filled = int(30 * done / self.total)
            left = (self.total - done) / rate
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} "
                              f"{rate:.0f} it/s, {left:.0f} s left ")
            self.stream.flush()
        elif done * 10 // self.total > self.last_decile or done == self.total:
            self.last_decile = done * 10 // self.total
            self.stream.write(f"step {done}/{self.total} ({rate:.0f} it/s)\n")
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self.tty:
            self.stream.write("\n")
            self.stream.flush()
