"""``python -m ganviz.bench``: ganviz's training speed against a plain PyTorch loop.

Everything runs in one process, one after another, on the same config and
device, so the ratios hold on a noisy machine:

``reference``
    the yardstick: a GAN training loop written the way a user writes one
    (``nn.Sequential`` MLPs, ``BCEWithLogitsLoss`` non-saturating loss,
    ``torch.optim.Adam``, fresh minibatches, k = 1, no drawing);
``engine``
    ganviz's :class:`~ganviz.core.engine.Engine`, headless, no snapshots;
``engine_live``
    ganviz's training loop (:func:`ganviz.core.loop.train`) yielding snapshots
    with every measurement at 30 per second;
``gui``
    the app itself, offscreen, drawing at its normal rate: steps/s, frames/s,
    and the latency from a control change to a snapshot showing it applied.

Each figure is the median of several timed windows after a warm-up; the
reference and the engine alternate window by window, so drift in the machine's
load hits both. ``--sweep`` adds steps/s of both as batch size and hidden
width grow. ``--json`` prints one JSON object instead of tables.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from typing import Callable

import torch
from torch import nn

from .core.config import SNAPSHOT_INTERVAL, Config
from .core.data import make_target
from .core.trainer import Engine, ReferenceEngine, resolve_device, set_threads

#: The benchmark's run: ring8, MLP 2-128-128, batch 256, Adam, k = 1.
BENCH_CONFIG = Config(
    data="ring8", loss="nonsaturating", k=1, optimizer="adam", batch_size=256,
    z_dim=2, hidden=128, layers=2, lr_d=1e-3, lr_g=1e-3, seed=0, device="auto",
)

#: Window lengths (seconds) and counts of the full bench; ``tiny`` for tests.
FULL = dict(warmup=1.0, window=1.0, windows=7, live_windows=7, gui_seconds=8.0)
TINY = dict(warmup=0.05, window=0.05, windows=2, live_windows=2, gui_seconds=1.0)


# --- the yardstick ------------------------------------------------------------


def plain_loop(config: Config = BENCH_CONFIG) -> Callable[[], None]:
    """One training iteration of a plain PyTorch GAN, as a user writes it.

    Returns a function that runs one iteration: a D step on a fresh real and
    a fresh generated minibatch, then a G step on fresh noise (non-saturating
    loss), with ``nn.Sequential`` MLPs shaped like ganviz's, autograd and
    ``torch.optim.Adam`` (betas as ganviz's). It draws and records nothing.
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

    def step() -> None:
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

    step.G, step.D = G, D
    return step


def engine_step(config: Config = BENCH_CONFIG, engine_class=Engine) -> Callable[[], None]:
    """``Engine(config).train_step``, with per-step stats drained now and then."""
    engine = engine_class(config)

    def step() -> None:
        engine.train_step()
        if len(engine._stats) >= 1000:  # as the loop does once per snapshot
            engine.drain()

    step.engine = engine
    return step


# --- timing ---------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _window(step: Callable[[], None], seconds: float, device: torch.device, min_steps: int = 3) -> float:
    """Steps per second of ``step`` over about ``seconds`` (at least ``min_steps`` steps)."""
    _sync(device)
    t0 = time.perf_counter()
    n, chunk = 0, 1
    while True:
        for _ in range(chunk):
            step()
        n += chunk
        _sync(device)
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= min_steps:
            return n / elapsed
        chunk = min(chunk * 2, 64)


def _summary(rates: list[float]) -> dict:
    return {
        "steps_per_s": round(statistics.median(rates), 1),
        "min": round(min(rates), 1),
        "max": round(max(rates), 1),
        "windows": len(rates),
    }


def compare(steps: dict[str, Callable[[], None]], device, warmup: float, window: float, windows: int) -> dict:
    """Median steps/s of each step function, windows alternating between them.

    Returns ``{name: {steps_per_s, min, max, windows}}`` plus, for every name
    after the first, ``ratio`` (median over rounds of its rate over the first
    one's in the same round).
    """
    for step in steps.values():
        _window(step, warmup, device)
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(windows):
        for name, step in steps.items():
            rates[name].append(_window(step, window, device))
    first = next(iter(steps))
    out = {name: _summary(r) for name, r in rates.items()}
    for name in list(steps)[1:]:
        out[name]["ratio"] = round(
            statistics.median(a / b for a, b in zip(rates[name], rates[first])), 3
        )
    return out


def live(config: Config, warmup: float, window: float, windows: int) -> dict:
    """Steps/s of the training loop with snapshots and every measurement at 30 per second.

    Also the snapshots per second and ``measure_share``: the share of the
    loop's wall time not spent in training steps (snapshots, measurements,
    checkpoints of the weights), from the loop's own training-time rate.
    """
    from .core.loop import train

    gen = train(config, measure=True, interval=SNAPSHOT_INTERVAL)
    snap = next(gen)  # step 0, after the probe is built
    t_end = time.perf_counter() + warmup
    while time.perf_counter() < t_end:
        snap = next(gen)
    rates, snaps_per_s, shares = [], [], []
    for _ in range(windows):
        t0, s0, n = time.perf_counter(), snap.step, 0
        train_rates = []
        while True:
            snap = next(gen)
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
    gen.close()
    out = _summary(rates)
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


def measure_gui(config: Config, seconds: float = 8.0, tiny: bool = False, windows: int = 5,
                latency_trials: int = 5, mode: str | None = None) -> dict:
    """The app offscreen, drawing at its normal rate, with the worker in its default mode.

    Opens :class:`ganviz.app.main_window.MainWindow` as ``python main.py``
    does (``QT_QPA_PLATFORM=offscreen`` unless a platform is set), waits for
    the run to start, then for ``seconds`` measures the training rate seen in
    the snapshots the GUI thread receives and the frames the window draws.
    ``mode`` picks the worker (``process`` or ``thread``; default: the app's).
    Then it changes ``lr_d`` the way a slider does (``MainWindow.on_params``
    in the GUI thread) and times until a snapshot carrying the new value
    reaches the GUI thread, ``latency_trials`` times.

    Returns
    -------
    dict
        ``steps_per_s`` (median over windows), ``frames_per_s``,
        ``draw_ms`` (median time of one frame's drawing), ``latency_ms``
        (median; ``latency_max_ms`` the worst), ``snapshots_per_s``,
        ``worker`` (process or thread) and ``startup_s`` (window to first snapshot).
    """
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    from .app.main_window import MainWindow
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
        def on_snapshot(self, snap) -> None:
            self.snaps.append((time.perf_counter(), snap.step, snap.config.get("lr_d")))
            if self.loop is not None and self.until is not None and self.until(snap):
                self.loop.quit()

        @Slot(str)
        def on_failed(self, text: str) -> None:
            self.failed = text.strip().splitlines()[-1] if text.strip() else "failed"

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
    window = MainWindow(config, None, mode=mode)
    frames: list[tuple[float, float]] = []  # (start, seconds) of each drawn frame
    draw = window.draw

    def timed_draw(snap) -> None:
        t = time.perf_counter()
        draw(snap)
        frames.append((t, time.perf_counter() - t))

    window.draw = timed_draw
    try:
        window.show()
        t_open = time.perf_counter()
        window.start()
        worker = window.controller.worker
        worker.snapshot.connect(rec.on_snapshot)
        worker.failed.connect(rec.on_failed)
        deadline = t_open + 120
        while not rec.snaps and not rec.failed and time.perf_counter() < deadline:
            spin(100, until=lambda snap: True)
        if not rec.snaps:
            raise GuiBenchError(f"the app produced no snapshot: {rec.failed or 'timed out'}")
        startup = rec.snaps[0][0] - t_open
        spin(300 if tiny else 1500)  # warm-up: first frames, caches, the child's first steps
        rates, fps, sps = [], [], []
        n_windows = 2 if tiny else windows
        for _ in range(n_windows):
            t0, i0, f0 = time.perf_counter(), len(rec.snaps), len(frames)
            spin(1000 * seconds / n_windows)
            t1 = time.perf_counter()
            got = rec.snaps[i0:]
            if len(got) >= 2:
                rates.append((got[-1][1] - got[0][1]) / (got[-1][0] - got[0][0]))
            fps.append((len(frames) - f0) / (t1 - t0))
            sps.append(len(got) / (t1 - t0))
        if rec.failed:
            raise GuiBenchError(f"the run failed: {rec.failed}")
        latencies = []
        lr = config.lr_d
        for i in range(1 if tiny else latency_trials):
            lr = lr * (1.25 if i % 2 == 0 else 0.8)
            t0 = time.perf_counter()
            window.on_params({"lr_d": lr})
            spin(5000, until=lambda snap, lr=lr: snap.config.get("lr_d") == lr)
            hit = [t for t, _, v in rec.snaps if v == lr and t >= t0]
            if hit:
                latencies.append((hit[0] - t0) * 1e3)
            spin(100 if tiny else 400)
        draw_ms = [d * 1e3 for _, d in frames]
        return {
            "steps_per_s": round(statistics.median(rates), 1) if rates else None,
            "min": round(min(rates), 1) if rates else None,
            "max": round(max(rates), 1) if rates else None,
            "windows": len(rates),
            "frames_per_s": round(statistics.median(fps), 1),
            "draw_ms": round(statistics.median(draw_ms), 2) if draw_ms else None,
            "snapshots_per_s": round(statistics.median(sps), 1),
            "latency_ms": round(statistics.median(latencies), 1) if latencies else None,
            "latency_max_ms": round(max(latencies), 1) if latencies else None,
            "worker": window.controller.mode,
            "startup_s": round(startup, 2),
            "child_peak_rss_mib": _children_peak_rss_mib(),
        }
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()


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


def run(config: Config = BENCH_CONFIG, tiny: bool = False, gui: bool = True) -> dict:
    """The bench; returns one dict (what ``--json`` prints).

    Parameters
    ----------
    config : Config
        The run measured (default :data:`BENCH_CONFIG`).
    tiny : bool
        Windows of a few hundredths of a second (for tests): the structure of
        the result, not its numbers.
    gui : bool
        Also measure the app offscreen.
    """
    p = TINY if tiny else FULL
    t_start = time.perf_counter()
    threads = set_threads()
    device = resolve_device(config.device)
    steps = {
        "reference": plain_loop(config),
        "engine": engine_step(config),
        "reference_engine": engine_step(config, ReferenceEngine),
    }
    result = compare(steps, device, p["warmup"], p["window"], p["windows"])
    result["engine_live"] = live(config, p["warmup"], p["window"], p["live_windows"])
    ref = result["reference"]["steps_per_s"]
    result["engine_live"]["ratio"] = round(result["engine_live"]["steps_per_s"] / ref, 3)
    result["gui"] = None
    result["gui_note"] = "not measured (--no-gui)"
    if gui:
        try:
            result["gui"] = measure_gui(config, seconds=p["gui_seconds"], tiny=tiny)
            result["gui_note"] = ""
        except ImportError as exc:
            result["gui_note"] = f"the app cannot be imported: {exc}"
        except GuiBenchError as exc:
            result["gui_note"] = str(exc)
        if result["gui"] and result["gui"].get("steps_per_s"):
            result["gui"]["ratio"] = round(result["gui"]["steps_per_s"] / ref, 3)
    result["probe"] = probe_costs(config, repeats=2 if tiny else 7)
    result["ratios"] = {
        "engine/reference": result["engine"]["ratio"],
        "engine_live/reference": result["engine_live"]["ratio"],
        "gui/reference": (result["gui"] or {}).get("ratio"),
    }
    g = result["gui"] or {}
    result["targets"] = {
        "engine/reference >= 2.0": result["engine"]["ratio"] >= 2.0,
        "gui/reference >= 1.0": None if not g.get("ratio") else g["ratio"] >= 1.0,
        "gui frames/s >= 30": None if not g.get("frames_per_s") else g["frames_per_s"] >= 30,
        "latency <= 100 ms": None if g.get("latency_ms") is None else g["latency_ms"] <= 100,
    }
    result["device"] = str(device)
    result["torch_threads"] = threads
    result["torch"] = torch.__version__
    result["python"] = platform.python_version()
    result["cpu"] = _cpu_name()
    result["config"] = config.to_dict()
    result["peak_rss_mib"] = peak_rss_mib()
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    return result


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


def sweep(config: Config = BENCH_CONFIG, tiny: bool = False) -> list[dict]:
    """Steps/s of the reference and the engine as batch size, then hidden width, grow."""
    set_threads()
    device = resolve_device(config.device)
    points = [dict(batch_size=b) for b in (64, 128, 256, 512, 1024, 2048, 4096)]
    points += [dict(hidden=h) for h in (32, 64, 256, 512)]
    if tiny:
        points = [dict(batch_size=64), dict(hidden=32)]
    window = 0.02 if tiny else 0.3
    rows = []
    for change in points:
        c = config.replace(**change)
        res = compare(
            {"reference": plain_loop(c), "engine": engine_step(c)}, device,
            warmup=window, window=window, windows=2 if tiny else 3,
        )
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


def format_table(result: dict) -> str:
    """The bench result as a small plain-text table."""
    lines = [
        f"device {result['device']}, torch {result['torch']}, {result['torch_threads']} thread(s), "
        f"{result['cpu']}",
        f"{'':18s} {'steps/s':>9s} {'min':>8s} {'max':>8s} {'x reference':>12s}",
    ]
    for name in ("reference", "engine", "reference_engine", "engine_live", "gui"):
        r = result.get(name)
        if not r:
            lines.append(f"{name:18s} {'-':>9s}   {result.get('gui_note', '')}")
            continue
        ratio = r.get("ratio")
        lines.append(
            f"{name:18s} {r['steps_per_s']:9.1f} {r.get('min', 0):8.1f} {r.get('max', 0):8.1f} "
            f"{'' if ratio is None else f'{ratio:.2f}':>12s}"
        )
    live_ = result["engine_live"]
    lines.append(
        f"engine_live: {live_['snapshots_per_s']} snapshots/s, "
        f"{100 * live_['measure_share']:.0f}% of wall time outside training steps"
    )
    g = result.get("gui")
    if g:
        lines.append(
            f"gui: {g.get('frames_per_s')} frames/s, control-to-engine latency "
            f"{g.get('latency_ms')} ms"
        )
    pr = result["probe"]
    lines.append(
        f"probe: heavy {pr['heavy_ms']} ms, light {pr['light_ms']} ms, "
        f"state {pr['state_ms']} ms; peak RSS {result['peak_rss_mib']} MiB"
        + (f" (training child {g['child_peak_rss_mib']} MiB)" if g and g.get("child_peak_rss_mib") else "")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ganviz.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--sweep", action="store_true", help="also sweep batch size and hidden width")
    parser.add_argument("--no-gui", action="store_true", help="skip the app")
    parser.add_argument("--tiny", action="store_true", help="windows of a few ms (a smoke test)")
    args = parser.parse_args(argv)
    result = run(tiny=args.tiny, gui=not args.no_gui)
    if args.sweep:
        result["sweep"] = sweep(tiny=args.tiny)
    if args.json:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(format_table(result))
        if args.sweep:
            print()
            print(format_sweep(result["sweep"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
