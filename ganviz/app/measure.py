"""Training speed with the window open: python -m ganviz.app.measure [--preset ring8] [--seconds 8].

For each worker mode (child process, thread) and with drawing on and off, it
opens the real window (offscreen unless a display is set), lets the run warm
up, then counts iterations per wall second and frames per second. The same
loop without any window (``loop.train`` with measurements) is the yardstick.
Numbers go to stdout as JSON lines; docs/gui.md records them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _loop_alone(config, seconds: float) -> float:
    """Iterations per wall second of loop.train in this process, no window."""
    from ganviz.core.trainer import set_threads
    from ganviz.core.loop import Inbox, train

    set_threads()  # as every run does
    inbox = Inbox()
    start = None
    for snap in train(config, inbox):
        now = time.perf_counter()
        if start is None and snap.step >= 50:
            start, step0 = now, snap.step
        if start is not None and now - start >= seconds:
            inbox.stop()
            return (snap.step - step0) / (now - start)
    return 0.0


def _window(config, mode: str, draw: bool, seconds: float, warmup: float = 3.0) -> dict:
    """Iterations per wall second and frames per second of the real window."""
    from PySide6.QtWidgets import QApplication

    from ganviz.app.main_window import MainWindow

    app = QApplication.instance()
    window = MainWindow(config, None, mode=mode, draw=draw)
    window.show()
    window.start()
    c = window.controller

    def spin(until):
        while time.perf_counter() < until:
            app.processEvents()
            time.sleep(0.002)

    t_start = time.perf_counter()
    while c.latest is None and time.perf_counter() - t_start < 60:
        spin(time.perf_counter() + 0.05)
    spin(time.perf_counter() + warmup)
    step0, frames0, t0 = c.latest.step, window._frames, time.perf_counter()
    spin(t0 + seconds)
    dt = time.perf_counter() - t0
    out = dict(mode=c.mode, draw=draw, steps_per_s=round((c.latest.step - step0) / dt, 1),
               frames_per_s=round((window._frames - frames0) / dt, 1))
    window.close()
    app.processEvents()
    return out


def main(argv=None) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    p = argparse.ArgumentParser(prog="python -m ganviz.app.measure")
    p.add_argument("--preset", default="ring8")
    p.add_argument("--seconds", type=float, default=8.0)
    args = p.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from ganviz.core.presets import load_preset
    from ganviz.views import style

    config = load_preset(args.preset).config
    app = QApplication([sys.argv[0]])  # kept alive for the windows
    style.configure()
    print(json.dumps(dict(preset=args.preset, mode="no window", draw=False,
                          steps_per_s=round(_loop_alone(config, args.seconds), 1))), flush=True)
    for mode in ("process", "thread"):
        for draw in (False, True):
            row = _window(config, mode, draw, args.seconds)
            print(json.dumps(dict(preset=args.preset, **row)), flush=True)
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
