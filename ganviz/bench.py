"""``python -m ganviz.bench``: ganviz's training speed against a plain PyTorch loop.

Everything runs in one process, one figure after another, on the same config
and device, so the ratios hold on a noisy machine. Every figure of ganviz
that trains goes through THE training loop (:func:`ganviz.core.loop.train`):

``reference``
    the yardstick: a GAN training loop written the way a user writes one
    (``nn.Sequential`` MLPs, ``BCEWithLogitsLoss`` non-saturating loss,
    ``torch.optim.Adam``, fresh minibatches, k = 1, no drawing), at torch's
    default thread count (what a plain script gets);
``engine``
    the loop at full speed: the fast :class:`~ganviz.core.trainer.Engine`,
    a snapshot every :data:`LOOP_EVERY` iterations, nothing measured, one
    thread (ganviz's policy, :func:`~ganviz.core.trainer.set_threads`);
``reference_engine``
    the same loop driving the autograd :class:`~ganviz.core.trainer.ReferenceEngine`;
``engine_live``
    the loop on the window's schedule: a snapshot every 1/32 s with its
    measurements (no window);
``gui``
    the app itself, offscreen, for each worker mode (process, thread) with
    drawing on and off: training iterations/s beside the window, frames/s
    drawn, and the latency from a control change to a snapshot showing it;
``load`` (``--load N``)
    the reference and the engine measured quiet, then again beside N busy
    processes (pure-Python spin loops with a deadline), and the fraction of
    its quiet speed each keeps.

Each figure is the median of several timed windows after a warm-up; the
reference and the engine alternate window by window, so drift in the machine's
load hits both. ``--sweep`` adds iterations/s of both as batch size and hidden
width grow. ``--json`` prints one JSON object instead of tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

from .core.config import Config
from .core.data import make_target
from .core.events import Diverged, Finished, Snapshotted, Stopped
from .core.loop import DivergencePolicy, Schedule, train
from .core.trainer import Engine, ReferenceEngine, resolve_device, set_threads

#: The benchmark's run: ring8, MLP 2-128-128, batch 256, Adam, k = 1.
BENCH_CONFIG = Config(
    data="ring8", loss="nonsaturating", k=1, optimizer="adam", batch_size=256,
    z_dim=2, hidden=128, layers=2, lr_d=1e-3, lr_g=1e-3, seed=0, device="auto",
)

#: Window lengths (seconds) and counts of the full bench; ``tiny`` for tests.
FULL = dict(warmup=1.0, window=1.0, windows=7, live_windows=7, gui_seconds=6.0)
TINY = dict(warmup=0.05, window=0.05, windows=2, live_windows=2, gui_seconds=0.6)

#: Iterations between two snapshots of the full-speed loop (``engine``): enough
#: that handing one out is a small share, few enough for 1-second windows.
LOOP_EVERY = 256
#: The same under load, where an iteration may take 100x longer: short chunks
#: keep a window near its length (handing out a snapshot every 16 costs ~2%).
LOAD_EVERY = 16

#: torch's intra-op thread count when the bench was imported: what a plain
#: script gets (the physical cores, or ``OMP_NUM_THREADS``).
DEFAULT_THREADS = torch.get_num_threads()


# --- the yardstick ------------------------------------------------------------


def plain_loop(config: Config = BENCH_CONFIG, threads: int | None = None) -> Callable[[], int]:
    """One training iteration of a plain PyTorch GAN, as a user writes it.

    Returns a function that runs one iteration: a D step on a fresh real and
    a fresh generated minibatch, then a G step on fresh noise (non-saturating
    loss), with ``nn.Sequential`` MLPs shaped like ganviz's, autograd and
    ``torch.optim.Adam`` (betas as ganviz's). It draws and records nothing.
    Its ``threads`` attribute (default :data:`DEFAULT_THREADS`) is the
    intra-op thread count it is timed at.
    """
    device = resolve_device(config.device)
    target = make_target(config.data)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    torch.manual_seed(config.seed)

    def mlp(n_in: int, n_out: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for _ in range(config.layers):
            layers += [nn.Linear(n_in, config.hidden), nn.LeakyReLU(0.2)]
            n_in = config.hidden
        return nn.Sequential(*layers, nn.Linear(n_in, n_out)).to(device)

    G, D = mlp(config.z_dim, target.dim), mlp(target.dim, 1)
    opt_g = torch.optim.Adam(G.parameters(), lr=config.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=config.lr_d, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    m = config.batch_size
    ones = torch.ones(m, 1, device=device)
    zeros = torch.zeros(m, 1, device=device)

    def step() -> int:
        real = target.sample(m, gen, device)
        z = torch.randn(m, config.z_dim, generator=gen, device=device)
        fake = G(z)
        opt_d.zero_grad()
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        z = torch.randn(m, config.z_dim, generator=gen, device=device)
        opt_g.zero_grad()
        loss_g = bce(D(G(z)), ones)
        loss_g.backward()
        opt_g.step()
        return 1

    step.G, step.D = G, D
    step.threads = DEFAULT_THREADS if threads is None else threads
    return step


class RunEnded(RuntimeError):
    """The benchmarked run ended (diverged, stopped or finished): there is no speed to time."""


def loop_chunks(config: Config = BENCH_CONFIG, engine_class=Engine,
                every: int = LOOP_EVERY, threads: int | None = None) -> Callable[[], int]:
    """The training loop at full speed, one snapshot at a time.

    :func:`ganviz.core.loop.train` on ``Schedule.every_steps(every,
    measure="off")`` (per-step scalars, the divergence guard, no probe):
    what a headless run costs without its measurements. Returns a function
    that trains to the next snapshot and returns the iterations it did; its
    ``threads`` attribute is the thread count it is timed at (default: the
    policy's, :func:`~ganviz.core.trainer.set_threads`), its ``close()``
    ends the run.

    Raises
    ------
    RunEnded
        From the returned function, when the run diverges (the loop stops,
        as a headless run does, instead of pausing for a user who is not
        there) or otherwise ends: one line with the step and the cause.
    """
    policy = set_threads()
    threads = policy if threads is None else threads
    events = train(config, schedule=Schedule.every_steps(every, measure="off"),
                   policy=DivergencePolicy(on_divergence="stop"), engine=engine_class(config))
    step_now = next(events).snapshot.step  # Started: the run is built

    def chunk() -> int:
        nonlocal step_now
        for event in events:
            if isinstance(event, Snapshotted):
                done, step_now = event.snapshot.step - step_now, event.snapshot.step
                return done
            if isinstance(event, Diverged):
                raise RunEnded(f"the benchmarked run diverged at step {event.step:,} "
                               f"({event.quantity} is not finite; likely cause: {event.cause}); "
                               f"lower lr_d / lr_g or pick another config")
            if isinstance(event, (Finished, Stopped)):
                break
        raise RunEnded(f"the benchmarked run ended at step {step_now:,}; there is nothing more to time")

    chunk.threads = threads
    chunk.close = events.close
    return chunk


# --- timing ---------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _use_threads(step) -> None:
    """Set torch's intra-op threads to the ones ``step`` is timed at (process-wide)."""
    n = getattr(step, "threads", None)
    if n and torch.get_num_threads() != n:
        torch.set_num_threads(n)


def _window(step: Callable[[], int], seconds: float, device: torch.device, min_steps: int = 3) -> float:
    """Iterations per second of ``step`` over about ``seconds`` (at least ``min_steps`` calls).

    ``step`` returns the iterations one call did.
    """
    _use_threads(step)
    _sync(device)
    t0 = time.perf_counter()
    n, calls, chunk = 0, 0, 1
    while True:
        for _ in range(chunk):
            n += step()
        calls += chunk
        _sync(device)  # on CUDA only once per chunk, as a user's loop would
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and calls >= min_steps:
            return n / elapsed
        # Single iterations are batched between clock reads; loop chunks are not.
        chunk = min(chunk * 2, 64) if n == calls else 1


def _summary(rates: list[float]) -> dict:
    return {
        "steps_per_s": round(statistics.median(rates), 1),
        "min": round(min(rates), 1),
        "max": round(max(rates), 1),
        "windows": len(rates),
    }


def compare(steps: dict[str, Callable[[], int]], device, warmup: float, window: float, windows: int) -> dict:
    """Median iterations/s of each step function, windows alternating between them.

    Returns ``{name: {steps_per_s, min, max, windows, threads}}`` plus, for
    every name after the first, ``ratio`` (median over rounds of its rate
    over the first one's in the same round).
    """
    for step in steps.values():
        _window(step, warmup, device, min_steps=1)
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(windows):
        for name, step in steps.items():
            rates[name].append(_window(step, window, device, min_steps=1))
    first = next(iter(steps))
    out = {name: _summary(r) for name, r in rates.items()}
    for name, step in steps.items():
        out[name]["threads"] = getattr(step, "threads", torch.get_num_threads())
    for name in list(steps)[1:]:
        out[name]["ratio"] = round(
            statistics.median(a / b for a, b in zip(rates[name], rates[first])), 3
        )
    return out


def live(config: Config, warmup: float, window: float, windows: int) -> dict:
    """Iterations/s of the training loop on the window's schedule, without a window.

    :func:`ganviz.core.loop.train` with the default :class:`Schedule` (a
    snapshot every 1/32 s, measurements on a time budget). Also the snapshots
    per second and ``measure_share``: the share of the loop's wall time not
    spent in training steps (snapshots, measurements, the divergence guard),
    from the loop's own training-time rate.
    """
    events = train(config, schedule=Schedule())
    threads = set_threads()

    def next_snapshot():
        event = next(events)
        while not isinstance(event, Snapshotted):
            event = next(events)
        return event.snapshot

    snap = next(events).snapshot  # Started: step 0, after the probe is built
    t_end = time.perf_counter() + warmup
    while time.perf_counter() < t_end:
        snap = next_snapshot()
    rates, snaps_per_s, shares = [], [], []
    for _ in range(windows):
        t0, s0, n = time.perf_counter(), snap.step, 0
        train_rates = []
        while True:
            snap = next_snapshot()
            n += 1
            train_rates.append(snap.rate)
            elapsed = time.perf_counter() - t0
            if elapsed >= window and n >= 2:
                break
        wall_rate = (snap.step - s0) / elapsed
        rates.append(wall_rate)
        snaps_per_s.append(n / elapsed)
        train_rate = statistics.median(train_rates)
        shares.append(1.0 - wall_rate / train_rate if train_rate > 0 else 0.0)
    events.close()
    out = _summary(rates)
    out["threads"] = threads
    out["snapshots_per_s"] = round(statistics.median(snaps_per_s), 1)
    out["measure_share"] = round(statistics.median(shares), 3)
    return out


def probe_costs(config: Config, repeats: int = 7) -> dict:
    """Milliseconds per call of the probe's parts and of a weights checkpoint."""
    from .core.probe import Probe

    engine = Engine(config)
    probe = Probe(engine)

    def ms(fn) -> float:
        fn()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        return round(statistics.median(times), 2)

    return {
        "heavy_ms": ms(probe._heavy),
        "light_ms": ms(probe._light),
        "state_ms": ms(engine.state),
        "drain_ms": ms(lambda: (engine.train_step(), engine.drain())),
    }


class GuiBenchError(RuntimeError):
    """The app could not be measured (no snapshot came, the run failed); says why."""


#: The comparison the bench trains in the window: 4 variants, drawn as 4 small multiples
#: (lr_g differs, so that the latency trials can still change lr_d).
GUI_COMPARE = "lr_g=0.001,0.002,0.0005,0.00025"
#: The app's worker modes, drawing on/off and comparison, in the order the bench measures them.
GUI_CASES = (("process", True, None), ("process", False, None), ("thread", True, None),
             ("thread", False, None), ("process", True, GUI_COMPARE))


def measure_gui(config: Config, mode: str = "process", draw: bool = True, seconds: float = 6.0,
                tiny: bool = False, windows: int = 5, latency_trials: int = 5,
                compare: str | None = None) -> dict:
    """The app offscreen, as ``python main.py`` opens it, with one worker mode.

    Opens :class:`ganviz.app.main_window.MainWindow` (``QT_QPA_PLATFORM=offscreen``
    unless a platform is set; a ``QApplication`` is made if none exists),
    waits for the run's first snapshot, warms up, then for ``seconds`` (in
    ``windows`` windows) counts the training iterations the snapshots reaching
    the GUI thread show and the frames the window draws. With ``draw`` the
    window draws at its normal rate; without, it only takes the snapshots in.
    With drawing on it then changes ``lr_d`` the way a slider does
    (``MainWindow.on_params`` in the GUI thread) and times until a snapshot
    carrying the new value reaches the GUI thread, ``latency_trials`` times.
    With ``compare`` (``KEY=V1,V2,...``) the window trains that comparison
    and draws it as small multiples; the training rate is then the first
    variant's, and ``panels_per_s`` counts the panels drawn (all variants).

    Returns
    -------
    dict
        ``worker`` (process or thread), ``draw``, ``steps_per_s`` (median
        over windows; ``min``/``max``), ``frames_per_s`` (frames drawn, 0
        without drawing), ``draw_ms`` (median time of one frame's drawing),
        ``snapshots_per_s``, ``latency_ms`` (median; ``latency_max_ms`` the
        worst; None without drawing), ``startup_s`` (window to first
        snapshot), ``child_peak_rss_mib`` (the training process's peak
        memory, process mode) and, for a comparison, ``members`` and
        ``panels_per_s``.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from .app.main_window import MainWindow
    from .core.events import SNAPSHOT_EVENTS, Died, Errored
    from .views import style

    class Recorder(QObject):
        """Lives in the GUI thread: notes when each snapshot gets there."""

        def __init__(self) -> None:
            super().__init__()
            self.snaps: list[tuple[float, int, float]] = []  # (time, step, lr_d)
            self.until = None  # predicate on a snapshot that ends the current spin
            self.loop: QEventLoop | None = None
            self.failed = ""

        @Slot(object)
        def on_event(self, event) -> None:
            if isinstance(event, (Errored, Died)):
                self.failed = getattr(event, "text", "") or f"the training process died ({event.exitcode})"
                return
            if not isinstance(event, SNAPSHOT_EVENTS):
                return
            snap = event.snapshot
            if event.member > 0:  # a comparison: the first variant's clock
                return
            self.snaps.append((time.perf_counter(), snap.step, snap.config.get("lr_d")))
            if self.loop is not None and self.until is not None and self.until(snap):
                self.loop.quit()

    def spin(ms: float, until=None) -> None:
        """Run the GUI's event loop for ``ms``, or until a snapshot satisfies ``until``."""
        loop = QEventLoop()
        rec.loop, rec.until = loop, until
        QTimer.singleShot(int(ms), loop.quit)
        loop.exec()
        rec.loop = rec.until = None

    app = QApplication.instance() or QApplication(["ganviz-bench"])
    style.configure()
    rec = Recorder()
    window = MainWindow(config, None, mode=mode, draw=draw)
    frames: list[float] = []  # seconds of each drawn frame
    panels = [0]  # panels of the small multiples drawn
    name = "draw" if compare is None else "draw_comparison"
    draw_now, panel_now = getattr(window, name), window.multiples.draw

    def timed_draw(*args) -> None:
        t = time.perf_counter()
        draw_now(*args)
        frames.append(time.perf_counter() - t)

    def counted_panel(*args) -> None:
        panels[0] += 1
        panel_now(*args)

    setattr(window, name, timed_draw)
    window.multiples.draw = counted_panel
    try:
        window.show()
        t_open = time.perf_counter()
        window.start()
        window.controller.worker.event.connect(rec.on_event)
        if compare is not None and not window.controller.compare(compare):
            raise GuiBenchError(f"the comparison {compare!r} was refused: {window.banner.text()}")
        deadline = t_open + 120
        while not rec.snaps and not rec.failed and time.perf_counter() < deadline:
            spin(100, until=lambda snap: True)
        if not rec.snaps:
            raise GuiBenchError(f"the app produced no snapshot: {rec.failed or 'timed out'}")
        startup = rec.snaps[0][0] - t_open
        spin(300 if tiny else 1500)  # warm-up: first frames, caches, the child's first steps
        rates, fps, sps, pps = [], [], [], []
        n_windows = 2 if tiny else windows
        for _ in range(n_windows):
            t0, i0, f0, p0 = time.perf_counter(), len(rec.snaps), len(frames), panels[0]
            spin(1000 * seconds / n_windows)
            t1 = time.perf_counter()
            got = rec.snaps[i0:]
            if len(got) >= 2:
                rates.append((got[-1][1] - got[0][1]) / (got[-1][0] - got[0][0]))
            fps.append((len(frames) - f0) / (t1 - t0))
            sps.append(len(got) / (t1 - t0))
            pps.append((panels[0] - p0) / (t1 - t0))
        if rec.failed:
            raise GuiBenchError(f"the run failed: {rec.failed}")
        latencies = []
        lr = config.lr_d
        for i in range(0 if not draw else 1 if tiny else latency_trials):
            lr = lr * (1.25 if i % 2 == 0 else 0.8)
            t0 = time.perf_counter()
            window.on_params({"lr_d": lr})
            spin(5000, until=lambda snap, lr=lr: snap.config.get("lr_d") == lr)
            hit = [t for t, _, v in rec.snaps if v == lr and t >= t0]
            if hit:
                latencies.append((hit[0] - t0) * 1e3)
            spin(100 if tiny else 400)
        draw_ms = [d * 1e3 for d in frames]
        return {
            "worker": window.controller.mode,
            "draw": draw,
            "steps_per_s": round(statistics.median(rates), 1) if rates else None,
            "min": round(min(rates), 1) if rates else None,
            "max": round(max(rates), 1) if rates else None,
            "windows": len(rates),
            "frames_per_s": round(statistics.median(fps), 1),
            "draw_ms": round(statistics.median(draw_ms), 2) if draw_ms else None,
            "snapshots_per_s": round(statistics.median(sps), 1),
            "latency_ms": round(statistics.median(latencies), 1) if latencies else None,
            "latency_max_ms": round(max(latencies), 1) if latencies else None,
            "startup_s": round(startup, 2),
            "child_peak_rss_mib": _children_peak_rss_mib(),
            **({} if compare is None else {
                "members": len(window.controller.comparison.values),
                "panels_per_s": round(statistics.median(pps), 1)}),
        }
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


def _gui_case(mode: str, draw: bool, comparison: str | None = None) -> str:
    """A row's name: ``process, on``; ``process, on, 4 variants`` for a comparison."""
    name = f"{mode}, {'on' if draw else 'off'}"
    return name if comparison is None else f"{name}, {len(comparison.split(','))} variants"


def gui_rows(config: Config, seconds: float = 6.0, tiny: bool = False, cases=GUI_CASES) -> tuple[list, str]:
    """:func:`measure_gui` for each (worker mode, drawing, comparison) in ``cases``.

    Returns the rows measured and a note ("" when every case was measured;
    otherwise why one was not: the app cannot be imported, a run failed).
    """
    rows, notes = [], []
    for mode, draw, comparison in cases:
        try:
            rows.append(measure_gui(config, mode, draw, seconds=seconds, tiny=tiny,
                                    compare=comparison))
        except ImportError as exc:
            return rows, f"the app cannot be imported: {exc}"
        except GuiBenchError as exc:
            notes.append(f"{_gui_case(mode, draw, comparison)}: {exc}")
    return rows, "; ".join(notes)


def thread_difference(config: Config, threads: int, steps: int = 200) -> dict:
    """Do ``threads`` intra-op threads change a run's numbers? The loop at 1 and at ``threads``.

    Trains ``steps`` iterations of ``config`` through :func:`ganviz.core.loop.train`
    twice from the same seed, once at one thread and once at ``threads``,
    and compares the per-step scalars (losses, gradient norms, D's means).

    Returns
    -------
    dict
        ``threads``, ``steps``, ``identical`` (every scalar bit-equal) and
        ``max_abs_diff`` (largest absolute difference of any scalar).
    """
    histories = []
    for n in (1, threads):
        events = train(config, schedule=Schedule.every_steps(steps, measure="off"), max_steps=steps)
        next(events)  # Started: the loop has set its thread policy
        torch.set_num_threads(n)
        history = {}
        for event in events:
            if isinstance(event, Snapshotted):
                history = event.snapshot.history
        histories.append(history)
    set_threads()
    names = [k for k in ("loss_d", "loss_g", "grad_norm_d", "grad_norm_g", "d_real", "d_fake")
             if k in histories[0]]
    a = np.stack([np.asarray(histories[0][k], dtype=np.float64) for k in names])
    b = np.stack([np.asarray(histories[1][k], dtype=np.float64) for k in names])
    return {"threads": threads, "steps": steps, "identical": bool(np.array_equal(a, b)),
            "max_abs_diff": float(np.max(np.abs(a - b)))}


# --- under load ------------------------------------------------------------------

#: A busy process: pure-Python arithmetic until its deadline (wall clock,
#: ``time.time()``) or until its parent (pid given: it may be gone before the
#: child starts) is gone, whichever comes first.
_SPIN = """
import os, sys, time
deadline, parent, x = float(sys.argv[1]), int(sys.argv[2]), 1
while time.time() < deadline and os.getppid() == parent:
    for _ in range(100000):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
"""


class Load:
    """``n`` CPU-bound busy processes beside the bench, for at most ``seconds``.

    A context manager: entering starts them (plain ``python -c`` spin loops:
    no torch, nothing of the bench imported), leaving terminates and reaps
    them. Each also ends by itself at its deadline or when this process is
    gone, so a crashed bench leaves nothing spinning.
    """

    def __init__(self, n: int, seconds: float) -> None:
        if n < 0:
            raise ValueError(f"the load is a number of busy processes >= 0, got {n}")
        self.n, self.seconds = n, seconds
        self.processes: list[subprocess.Popen] = []

    def start(self) -> "Load":
        deadline = time.time() + self.seconds
        for _ in range(self.n):
            self.processes.append(subprocess.Popen(
                [sys.executable, "-c", _SPIN, repr(deadline), str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            ))
        return self

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def alive(self) -> int:
        """How many of the busy processes still run."""
        return sum(p.poll() is None for p in self.processes)

    def stop(self) -> None:
        """Terminate the busy processes and wait for them (kill any that linger)."""
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def __enter__(self) -> "Load":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def under_load(config: Config, n: int, warmup: float, window: float, windows: int,
               plain_threads: int | None = None) -> dict:
    """Headless iterations/s quiet, then beside ``n`` busy processes, and what each keeps.

    The reference (plain loop at its threads) and the engine (the loop at
    full speed, one thread, a snapshot every :data:`LOAD_EVERY` iterations) alternate window by window as in :func:`compare`,
    first on the machine as it is, then with :class:`Load` running. When the
    plain loop runs at more threads than the policy's one, the same loop at
    that count (``engine_N_threads``) alternates with them: the measurement
    behind the policy.

    Returns
    -------
    dict
        ``processes`` (n; ``alive_at_end`` of them still ran after the
        loaded windows), ``quiet`` and ``loaded`` (``{name: {steps_per_s,
        min, max, windows, threads}}``), ``kept`` (loaded over quiet median,
        per name), ``loadavg`` (the 1-minute load average at the end of the
        loaded windows).
    """
    device = resolve_device(config.device)
    steps = {"reference": plain_loop(config, plain_threads),
             "engine": loop_chunks(config, every=LOAD_EVERY)}
    many = steps["reference"].threads
    if many > steps["engine"].threads:
        # The policy's alternative: the same loop at the plain loop's threads.
        steps[f"engine_{many}_threads"] = loop_chunks(config, every=LOAD_EVERY, threads=many)
    try:
        quiet = compare(steps, device, warmup, window, windows)
        # Bounded: generous against windows stretching under load (the
        # processes also end with this one, and are stopped right after).
        with Load(n, seconds=300 + 10 * len(steps) * (warmup + windows * window)) as load:
            time.sleep(min(1.0, warmup))  # the busy processes start and take their cores
            loaded = compare(steps, device, warmup, window, windows)
            loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
            alive = load.alive()  # n, unless one met its deadline early
    finally:
        for name, step in steps.items():
            if name != "reference":
                step.close()
    for r in (quiet, loaded):
        for name in steps:
            r[name].pop("ratio", None)
    kept = {name: round(loaded[name]["steps_per_s"] / quiet[name]["steps_per_s"], 3) for name in steps}
    return {"processes": n, "alive_at_end": alive, "quiet": quiet, "loaded": loaded, "kept": kept,
            "loadavg": None if loadavg is None else round(loadavg, 2)}


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _children_peak_rss_mib() -> float | None:
    """Largest peak resident memory (VmHWM) of this process's live children, MiB (Linux).

    ``RUSAGE_CHILDREN`` would count a spawned child's fork-time copy of this
    process, so the children's own counters are read while they run.
    """
    import glob

    peaks = []
    for path in glob.glob("/proc/self/task/*/children"):
        try:
            with open(path, encoding="ascii") as f:
                pids = f.read().split()
        except OSError:
            continue
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status", encoding="ascii") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            peaks.append(int(line.split()[1]) / 1024)
            except OSError:
                pass
    return round(max(peaks), 1) if peaks else None


# --- the whole bench ----------------------------------------------------------


def run(config: Config = BENCH_CONFIG, tiny: bool = False, gui: bool = True, load: int = 0,
        plain_threads: int | None = None) -> dict:
    """The bench; returns one dict (what ``--json`` prints).

    Parameters
    ----------
    config : Config
        The run measured (default :data:`BENCH_CONFIG`).
    tiny : bool
        Windows of a few hundredths of a second (for tests): the structure of
        the result, not its numbers.
    gui : bool
        Also measure the app offscreen (:data:`GUI_CASES`).
    load : int
        Busy processes for the figures under load (0: none measured).
    plain_threads : int, optional
        Intra-op threads of the plain loop (default :data:`DEFAULT_THREADS`).
    """
    p = TINY if tiny else FULL
    t_start = time.perf_counter()
    loadavg = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    device = resolve_device(config.device)
    steps = {
        "reference": plain_loop(config, plain_threads),
        "engine": loop_chunks(config),
        "reference_engine": loop_chunks(config, ReferenceEngine),
    }
    try:
        result = compare(steps, device, p["warmup"], p["window"], p["windows"])
    finally:
        steps["engine"].close()
        steps["reference_engine"].close()
    ref = result["reference"]["steps_per_s"]
    result["engine_live"] = live(config, p["warmup"], p["window"], p["live_windows"])
    result["engine_live"]["ratio"] = round(result["engine_live"]["steps_per_s"] / ref, 3)
    result["gui"], result["gui_note"] = [], "not measured (--no-gui)"
    if gui:
        result["gui"], result["gui_note"] = gui_rows(config, seconds=p["gui_seconds"], tiny=tiny)
        for row in result["gui"]:
            if row.get("steps_per_s") and "members" not in row:  # a comparison: per variant
                row["ratio"] = round(row["steps_per_s"] / ref, 3)
    result["load"] = None
    if load:
        result["load"] = under_load(config, load, p["warmup"], p["window"], p["windows"],
                                    plain_threads)
    result["thread_difference"] = thread_difference(
        config, max(2, result["reference"]["threads"]), steps=50 if tiny else 200)
    result["probe"] = probe_costs(config, repeats=2 if tiny else 7)
    # The app's default: the worker in a process, drawing (one run; and a comparison).
    g = next((r for r in result["gui"] if r["worker"] == "process" and r["draw"]
              and "members" not in r), {})
    gc_ = next((r for r in result["gui"] if "members" in r), {})
    result["ratios"] = {
        "engine/reference": result["engine"]["ratio"],
        "engine_live/reference": result["engine_live"]["ratio"],
        "gui/reference": g.get("ratio"),
    }
    kept = (result["load"] or {}).get("kept", {})
    result["targets"] = {
        "engine/reference >= 2.0": result["engine"]["ratio"] >= 2.0,
        "gui/reference >= 1.0": None if not g.get("ratio") else g["ratio"] >= 1.0,
        "gui frames/s >= 30": None if not g.get("frames_per_s") else g["frames_per_s"] >= 30,
        "gui frames/s >= 30 with 4 small multiples": (
            None if not gc_.get("frames_per_s") else gc_["frames_per_s"] >= 30),
        "latency <= 100 ms": None if g.get("latency_ms") is None else g["latency_ms"] <= 100,
        "engine keeps >= 30% under load 3": (
            kept["engine"] >= 0.3 if kept and result["load"]["processes"] >= 3 else None),
    }
    result["threads"] = {"reference": result["reference"]["threads"],
                         "ganviz": result["engine"]["threads"]}
    result["device"] = str(device)
    result["torch"] = torch.__version__
    result["python"] = platform.python_version()
    result["cpu"] = _cpu_name()
    result["cores"] = os.cpu_count()
    result["loadavg_at_start"] = None if loadavg is None else round(loadavg, 2)
    result["config"] = config.to_dict()
    result["peak_rss_mib"] = peak_rss_mib()
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    return result



# --- comparison: members of a batch against one run ------------------------------------


def _batch_rate(configs: list[Config], warmup: float, window: float, windows: int) -> float:
    """Median batch iterations/s of a BatchedEngine of ``configs`` (in this process)."""
    from .core.trainer.batched import BatchedEngine

    set_threads()
    batch = BatchedEngine(configs)

    def step() -> int:
        for member in batch.members:
            member.train_step()
            if len(member._stats) >= 1000:
                member.drain()
        return 1

    _window(step, warmup, batch.device)
    return statistics.median(_window(step, window, batch.device) for _ in range(windows))


def comparison(config: Config = BENCH_CONFIG, tiny: bool = False, members: int = 4,
               halves: bool = True) -> dict:
    """Member-iterations/s of ``members`` variants against one single run's iterations/s.

    The variants differ in lr_d (as a comparison of a hot key does). Three
    ways, for the bench width and for width 32: one batch in this process;
    the batch split in two halves, each in its own process (both cores); and
    the single run (``halves`` False skips the two processes). Ratios are
    member-iterations/s over the single run's it/s.
    """
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    p = TINY if tiny else FULL
    set_threads()  # the policy's one thread, for the single run and the batches alike
    device = resolve_device(config.device)
    out = {"members": members}
    for name, base in (("bench", config), ("width32", config.replace(hidden=32))):
        configs = [base.replace(lr_d=base.lr_d * f) for f in (1.0, 2.0, 0.5, 0.25)[:members]]
        engine = Engine(base)

        def one() -> int:
            engine.train_step()
            if len(engine._stats) >= 1000:
                engine.drain()
            return 1

        _window(one, p["warmup"], device)
        single = statistics.median(_window(one, p["window"], device) for _ in range(p["windows"]))
        batched = _batch_rate(configs, p["warmup"], p["window"], p["windows"]) * members
        split = None
        if halves and (os.cpu_count() or 1) > 1 and members >= 2:
            half = members // 2
            with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
                parts = [pool.submit(_batch_rate, c, p["warmup"], p["window"], p["windows"])
                         for c in (configs[:half], configs[half:])]
                split = parts[0].result() * half + parts[1].result() * (members - half)
        out[name] = {
            "hidden": base.hidden,
            "single_steps_per_s": round(single, 1),
            "batched_member_steps_per_s": round(batched, 1),
            "batched_ratio": round(batched / single, 2),
            "halves_member_steps_per_s": None if split is None else round(split, 1),
            "halves_ratio": None if split is None else round(split / single, 2),
        }
    best = lambda r: max(r["batched_ratio"], r["halves_ratio"] or 0)  # noqa: E731
    out["targets"] = {f"{members} variants >= 1.6x one run": best(out["bench"]) >= 1.6,
                      f"{members} variants of width 32 >= 3x one run": best(out["width32"]) >= 3.0}
    out["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return out


def format_comparison(c: dict) -> str:
    lines = [f"comparison ({c['members']} variants; member-it/s against one run's it/s):"]
    for name in ("bench", "width32"):
        r = c[name]
        lines.append(f"  hidden {r['hidden']:4d}: one run {r['single_steps_per_s']:8.1f}; one batch "
                     f"{r['batched_member_steps_per_s']:8.1f} ({r['batched_ratio']:.2f}x); two halves "
                     f"in 2 processes {r['halves_member_steps_per_s']} ({r['halves_ratio']}x)")
    lines.append("  targets: " + "; ".join(f"{k} {'met' if v else 'NOT met'}"
                                           for k, v in c["targets"].items())
                 + f"; load average {c['load_average']}")
    return "\n".join(lines)


def model_gflop(config: Config, dim: int = 2) -> float:
    """Matrix-product GFLOP of one iteration (k D steps and a G step), as the engine does it.

    D step: G forward (m rows), D forward and backward (2m rows); G step: G
    forward and backward, D forward and backward to its input (m rows).
    """
    h, L, m, z = config.hidden, config.layers, config.batch_size, config.z_dim
    g = z * h + (L - 1) * h * h + h * dim  # multiply-adds per row
    d = dim * h + (L - 1) * h * h + h
    d_step = g * m + 3 * d * 2 * m
    g_step = 3 * g * m + 2 * d * m
    return 2 * (config.k * d_step + g_step) / 1e9


def sweep(config: Config = BENCH_CONFIG, tiny: bool = False,
          plain_threads: int | None = None) -> list[dict]:
    """Iterations/s of the reference and the engine as batch size, then hidden width, grow."""
    device = resolve_device(config.device)
    points = [dict(batch_size=b) for b in (64, 128, 256, 512, 1024, 2048, 4096)]
    points += [dict(hidden=h) for h in (32, 64, 256, 512)]
    if tiny:
        points = [dict(batch_size=64), dict(hidden=32)]
    window = 0.02 if tiny else 0.3
    rows = []
    for change in points:
        c = config.replace(**change)
        engine = loop_chunks(c, every=16 if tiny else 64)
        try:
            res = compare(
                {"reference": plain_loop(c, plain_threads), "engine": engine}, device,
                warmup=window, window=window, windows=2 if tiny else 3,
            )
        finally:
            engine.close()
        gflop = model_gflop(c)
        rows.append({
            "batch_size": c.batch_size,
            "hidden": c.hidden,
            "gflop_per_step": round(gflop, 6),
            "reference": res["reference"]["steps_per_s"],
            "engine": res["engine"]["steps_per_s"],
            "ratio": res["engine"]["ratio"],
            "engine_gflops": round(gflop * res["engine"]["steps_per_s"], 1),
        })
    return rows


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _num(x, fmt: str = "9.1f") -> str:
    width = int(fmt.split(".")[0])
    return f"{'-':>{width}s}" if x is None else f"{x:{fmt}}"


def format_table(result: dict) -> str:
    """The bench result as small plain-text tables."""
    th = result["threads"]
    lines = [
        f"device {result['device']}, torch {result['torch']}, {result['cpu']}, "
        f"{result['cores']} cores (1-min load average {result['loadavg_at_start']} at the start); "
        f"threads: plain loop {th['reference']}, ganviz {th['ganviz']}",
        f"{'':18s} {'it/s':>9s} {'min':>9s} {'max':>9s} {'threads':>8s} {'x reference':>12s}",
    ]
    for name in ("reference", "engine", "reference_engine", "engine_live"):
        r = result[name]
        lines.append(
            f"{name:18s} {_num(r['steps_per_s'])} {_num(r['min'])} {_num(r['max'])} "
            f"{r['threads']:8d} {_num(r.get('ratio'), '12.2f')}"
        )
    live_ = result["engine_live"]
    lines.append(
        f"engine_live: {live_['snapshots_per_s']} snapshots/s, "
        f"{100 * live_['measure_share']:.0f}% of wall time outside training steps"
    )
    lines.append("")
    lines.append(f"{'gui (worker, drawing)':28s} {'it/s':>9s} {'frames/s':>9s} {'draw ms':>8s} "
                 f"{'latency ms':>11s} {'start s':>8s} {'x reference':>12s}")
    for g in result["gui"]:
        name = g["worker"] + (", on" if g["draw"] else ", off")
        if "members" in g:  # it/s: each variant's; panels: all variants' panels drawn per s
            name += f", {g['members']} variants"
        lines.append(
            f"{name:28s} {_num(g['steps_per_s'])} "
            f"{_num(g['frames_per_s'])} {_num(g['draw_ms'], '8.2f')} {_num(g['latency_ms'], '11.1f')} "
            f"{_num(g['startup_s'], '8.2f')} {_num(g.get('ratio'), '12.2f')}"
            + (f"  ({g['panels_per_s']} panels/s)" if "members" in g else "")
        )
    if result["gui_note"]:
        lines.append(f"gui: {result['gui_note']}")
    load = result.get("load")
    if load:
        lines.append("")
        lines.append(f"under load: {load['processes']} busy processes "
                     f"(1-min load average {load['loadavg']})")
        lines.append(f"{'':18s} {'quiet it/s':>11s} {'loaded it/s':>12s} {'kept':>7s} {'threads':>8s}")
        for name in load["kept"]:
            lines.append(
                f"{name:18s} {_num(load['quiet'][name]['steps_per_s'], '11.1f')} "
                f"{_num(load['loaded'][name]['steps_per_s'], '12.1f')} "
                f"{100 * load['kept'][name]:6.1f}% {load['loaded'][name]['threads']:8d}"
            )
    td = result["thread_difference"]
    lines.append("")
    lines.append(f"{td['threads']} threads against 1, {td['steps']} iterations of the loop: "
                 + ("bit-identical scalars" if td["identical"]
                    else f"scalars differ (largest difference {td['max_abs_diff']:.3g})"))
    pr = result["probe"]
    child = max((g["child_peak_rss_mib"] or 0 for g in result["gui"]), default=0)
    lines.append("")
    lines.append(
        f"probe: heavy {pr['heavy_ms']} ms, light {pr['light_ms']} ms, "
        f"state {pr['state_ms']} ms; peak RSS {result['peak_rss_mib']} MiB"
        + (f" (training child {child} MiB)" if child else "")
        + f"; {result['seconds']} s"
    )
    lines.append("targets: " + "; ".join(
        f"{name} {'-' if ok is None else 'met' if ok else 'NOT met'}"
        for name, ok in result["targets"].items()
    ))
    return "\n".join(lines)


def format_sweep(rows: list[dict]) -> str:
    head = f"{'batch':>6s} {'hidden':>6s} {'GFLOP':>7s} {'reference':>10s} {'engine':>8s} {'ratio':>6s} {'GFLOP/s':>8s}"
    out = [head]
    for r in rows:
        out.append(
            f"{r['batch_size']:6d} {r['hidden']:6d} {r['gflop_per_step']:7.3f} {r['reference']:10.1f} "
            f"{r['engine']:8.1f} {r['ratio']:6.2f} {r['engine_gflops']:8.1f}"
        )
    return "\n".join(out)


def _load_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"--load takes a number of busy processes >= 0, got {text!r}")
    return n


#: One change of the bench config per option of docs/dynamics-options.md (``--options``).
OPTION_CHANGES = (
    ("plain", {}),
    ("adam_beta1 0, adam_beta2 0.9", {"adam_beta1": 0.0, "adam_beta2": 0.9}),
    ("ttur 4", {"ttur": 4.0}),
    ("instance_noise 0.1", {"instance_noise": 0.1}),
    ("ema 0.999", {"ema": 0.999}),
    ("r1 1", {"r1": 1.0}),
    ("r2 1", {"r2": 1.0}),
    ("update simultaneous", {"update": "simultaneous"}),
    ("update optimistic", {"update": "optimistic"}),
    ("update extragradient", {"update": "extragradient"}),
    ("consensus 1 (autograd)", {"consensus": 1.0}),
    ("spectral_norm 1 (autograd)", {"spectral_norm": 1}),
)


def options(config: Config = BENCH_CONFIG, tiny: bool = False) -> dict:
    """Iterations/s of the loop with each option of OPTION_CHANGES, windows alternating.

    Each is :func:`loop_chunks` of the config with one change (a snapshot every
    16 iterations: the slow options' windows still hold several); ``ratio`` is
    the median per-round rate over the plain config's.
    """
    steps = {name: loop_chunks(config.replace(**changes), every=16) for name, changes in OPTION_CHANGES}
    try:
        seconds = (0.01, 0.02, 1) if tiny else (0.5, 1.0, 3)
        return compare(steps, resolve_device(config.device), *seconds)
    finally:
        for step in steps.values():
            step.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganviz.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sweep", action="store_true", help="also sweep batch size and hidden width")
    parser.add_argument("--no-gui", action="store_true", help="skip the app")
    parser.add_argument("--load", type=_load_count, default=0, metavar="N",
                        help="also measure headless training beside N busy processes")
    parser.add_argument("--preset", metavar="NAME",
                        help="measure this preset's config instead of the bench config")
    parser.add_argument("--tiny", action="store_true", help="windows of a few ms (a smoke test)")
    parser.add_argument("--no-compare", action="store_true", help="skip the comparison's batches")
    parser.add_argument("--options", action="store_true",
                        help="only the cost of each update rule and regulariser (docs/dynamics-options.md)")
    args = parser.parse_args(argv)
    config = BENCH_CONFIG
    if args.preset:
        from .core.presets import load_preset, preset_names

        names = preset_names()
        if args.preset not in names:
            parser.error(f"unknown preset {args.preset!r}; accepted: {', '.join(names)}")
        config = load_preset(args.preset).config
    if args.options:
        try:
            table = options(config, tiny=args.tiny)
        except RunEnded as exc:
            print(f"ganviz.bench: {exc}", file=sys.stderr)
            return 1
        if args.json:
            json.dump({"options": table, "preset": args.preset}, sys.stdout)
            sys.stdout.write("\n")
        else:
            for name, row in table.items():
                print(f"{name:32s} {row['steps_per_s']:8.1f} it/s  x{row.get('ratio', 1.0):.3f}")
        return 0
    try:
        result = run(config, tiny=args.tiny, gui=not args.no_gui, load=args.load)
        result["preset"] = args.preset
        if not args.no_compare:
            result["comparison"] = comparison(config, tiny=args.tiny)
        if args.sweep:
            result["sweep"] = sweep(config, tiny=args.tiny)
    except RunEnded as exc:
        print(f"ganviz.bench: {exc}", file=sys.stderr)
        return 1
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(format_table(result))
        if "comparison" in result:
            print(format_comparison(result["comparison"]))
        if args.sweep:
            print()
            print(format_sweep(result["sweep"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
