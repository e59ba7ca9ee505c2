"""Snapshots: immutable numpy pictures of a run (no torch: the GUI process reads them).

A snapshot holds everything a view draws and every metric a file records, as
numpy arrays and Python numbers; no torch tensor leaves the core.
:mod:`ganviz.core.probe` measures an engine into one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Snapshot:
    """What the views draw and the metric files record, at one step of one run.

    Grid fields are (n,) in 1-D and (h, w) in 2-D, rows along ``ys``. Sample
    fields are (n_show, dim). The metrics and mode counts are those of
    ``fields_step`` (heavy measurements refresh less often than curves); the
    drawn grids (p_g, d, d_star) are of that step, or later where a new view
    was drawn since (:meth:`~ganviz.core.probe.Probe.set_view`).
    """

    run_id: int
    step: int
    d_updates: int
    g_updates: int
    config: dict
    device: str
    dim: int
    rate: float  # iterations per second since the previous snapshot
    history: dict  # per-iteration arrays since the previous snapshot
    metrics: dict  # latest value of every metric name, floats (None: not applicable)
    fields_step: int
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None
    p_data: np.ndarray | None = None
    p_g: np.ndarray | None = None
    d: np.ndarray | None = None
    d_star: np.ndarray | None = None
    real: np.ndarray | None = None
    fake: np.ndarray | None = None
    z: np.ndarray | None = None
    fake_grad: np.ndarray | None = None
    mode_centres: np.ndarray | None = None
    mode_counts: np.ndarray | None = None
    critic: bool = False  # a Wasserstein critic: D is a score with no D* (the loss registry)
    d_kind: str = "probability"  # what ``d`` holds: "probability" sigmoid(logit), or "raw" output
    d_range: tuple | None = (0.0, 1.0)  # the y-range to draw ``d`` in; None: follow its values
    frozen: tuple = ()  # "d", "g": the networks not being updated
    engine: str = ""  # what the status bar says of the engine, e.g. "autograd engine: consensus on"
    extras: dict = field(default_factory=dict)
