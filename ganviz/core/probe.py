"""The probe: measures an engine into :class:`~ganviz.core.snapshot.Snapshot` objects.

It keeps the measuring apparatus of one run: the plotting grid with the exact
p_data on it, and fixed noise batches so that numbers and points do not jitter
from resampling.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from . import losses, metrics
from .snapshot import Snapshot

#: Share of the training thread's wall time the heavy measurements may take.
MEASURE_BUDGET = 0.10


def build_snapshot(engine, probe, run_id, rate, history, force=False, latest=None) -> Snapshot:
    """Snapshot of ``engine`` now; ``probe`` None gives scalars only.

    Heavy fields are measured within the probe's time budget, or always
    when ``force`` or step 0 asks for them to be current. ``latest``: the
    last per-step values, for a snapshot whose ``history`` is empty.
    """
    values = {"step": engine.step, **(latest or {})}
    values.update({k: float(v[-1]) for k, v in history.items() if k != "step" and len(v)})
    kw = {}
    if probe is not None:
        kw = probe.measure(force=force or engine.step == 0)
        values.update(kw.pop("metrics"))
    c = engine.config
    loss = losses.get(c.loss)
    return Snapshot(
        run_id=run_id,
        step=engine.step,
        d_updates=engine.d_updates,
        g_updates=engine.g_updates,
        config=c.to_dict(),
        device=str(engine.device),
        dim=engine.target.dim,
        rate=rate,
        history=history,
        metrics=values,
        fields_step=kw.pop("fields_step", engine.step),
        critic=loss.critic,
        d_kind=loss.draws,
        d_range=loss.d_range,
        frozen=tuple(sorted(engine.frozen)),
        engine=getattr(engine, "note", ""),
        **kw,
    )


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)  # never share memory with a tensor that keeps training
    a.flags.writeable = False
    return a


class Probe:
    """Measures an engine for snapshots.

    Parameters
    ----------
    engine : Engine
        The run to measure.
    n_show : int
        Generated and real points drawn as scatter (fixed z, so points can be followed).
    n_eval : int, optional
        Generator samples behind p_g, the divergences and mode coverage
        (default 10^4 on the CPU, 10^5 on CUDA).
    grid : int, optional
        Grid points per axis (default 512 in 1-D; 100 in 2-D on the CPU, 200 on CUDA).
    """

    def __init__(self, engine, n_show: int = 512, n_eval: int | None = None, grid: int | None = None):
        self.engine = engine
        target, dev = engine.target, engine.device
        cuda = dev.type == "cuda"
        self.n_eval = n_eval or (100_000 if cuda else 10_000)
        # grid25's modes (std 0.1) are narrower than a cell of a 100-grid over its
        # extent; 128 keeps the estimate's error at perfect fit near 0.01 nats.
        n = grid or (512 if target.dim == 1 else 200 if cuda else 128 if target.name == "grid25" else 100)
        # Fixed batches from their own generator: measuring never moves the training stream.
        rng = torch.Generator(device=dev).manual_seed(engine.config.seed + 7919)
        self.z_show = torch.randn(n_show, engine.config.z_dim, generator=rng, device=dev)
        self.z_eval = torch.randn(self.n_eval, engine.config.z_dim, generator=rng, device=dev)
        self.real_show = _frozen(target.sample(n_show, rng, dev).cpu().numpy())
        self.real_eval = target.sample(self.n_eval, rng, dev)
        # The measuring apparatus (grid, exact p_data, real batch) is the one
        # metrics.measure uses: the window measures as a researcher would.
        self.yardstick = metrics.Yardstick(target, n_grid=n, real=self.real_eval, seed=engine.config.seed)
        self.xs, self.ys = self.yardstick.xs, self.yardstick.ys
        if target.dim == 1:
            pts = self.xs[:, None]
            self.cell = self.xs[1] - self.xs[0]
        else:
            gx, gy = np.meshgrid(self.xs, self.ys)
            pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
            self.cell = (self.xs[1] - self.xs[0]) * (self.ys[1] - self.ys[0])
        self.shape = (n,) if target.dim == 1 else (n, n)
        self.grid_points = torch.as_tensor(pts, dtype=torch.float32, device=dev)
        self.p_data = _frozen(self.yardstick.p_data.reshape(self.shape))
        self.xs, self.ys = _frozen(self.xs), None if self.ys is None else _frozen(self.ys)
        self.n_grid = n
        self.view = None  # the drawing grid, when a window asked for one (set_view)
        self.kl_reason = None  # why the last measurement withheld KL, if it did
        self._redraw = False
        self.z_np = _frozen(self.z_show.cpu().numpy())
        t = target
        # What the panel says of p_data: exact, or an estimate from n points.
        self.target_info = dict(
            description=t.description, estimated=t.estimated, n_points=t.n_points,
            bandwidth=t.bandwidth, mode_stds=None if t.mode_std is None else _frozen(t.mode_std),
            extent=tuple(tuple(float(v) for v in r) for r in t.extent),
            weights=None if t.weights is None else _frozen(t.weights))
        self._fields: dict = {}
        self._metrics: dict = {}
        self._fields_step = -1
        self._spent = 0.0
        self._born = time.perf_counter()
        # A comparison's members share the budget (the lockstep sets ``measure_share``).
        self._budget = MEASURE_BUDGET * getattr(engine, "measure_share", 1.0)

    def set_view(self, view) -> None:
        """Draw the fields (D, p_g, D*) over ``view`` from the next snapshot on.

        ``view`` is ((x0, x1),) in 1-D, ((x0, x1), (y0, y1)) in 2-D, data
        units: the rectangle a window shows. The grid over it holds as many
        points as the measuring grid (in 2-D split between the axes by the
        rectangle's aspect, square cells), so drawing costs the same. None,
        or a rectangle that is not finite and positive, goes back to the
        measuring grid. The metrics never depend on it: they are measured on
        the target's own grid (:class:`~ganviz.core.metrics.Yardstick`).
        """
        self.view = self._view_grid(view)
        self._redraw = True  # the next snapshot draws afresh

    def _view_grid(self, view):
        t = self.engine.target
        try:
            rect = [(float(lo), float(hi)) for lo, hi in view][: t.dim]
        except (TypeError, ValueError):
            return None
        if len(rect) != t.dim or not all(np.isfinite(r).all() and r[1] > r[0] for r in map(np.array, rect)):
            return None
        if t.dim == 1:
            xs, ys = np.linspace(*rect[0], self.n_grid), None
            axes = [xs]
        else:
            (x0, x1), (y0, y1) = rect
            aspect = (x1 - x0) / (y1 - y0)
            nx = int(np.clip(round(self.n_grid * aspect**0.5), 8, 16 * self.n_grid))
            ny = int(np.clip(round(self.n_grid / aspect**0.5), 8, 16 * self.n_grid))
            xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
            axes = [xs, ys]
        if t.is_mixture:  # exact and cheap
            p = t.density_grid(*axes)
        else:  # a curve's exact density costs up to a second: interpolate the measuring grid
            p = self.yardstick._p_on([xs] if ys is None else [ys, xs])
        if ys is None:
            pts, shape = xs[:, None], (len(xs),)
        else:
            gx, gy = np.meshgrid(xs, ys)
            pts, shape = np.stack([gx.ravel(), gy.ravel()], axis=1), (len(ys), len(xs))
        return dict(xs=_frozen(xs), ys=None if ys is None else _frozen(ys),
                    p_data=_frozen(np.asarray(p, dtype=np.float64).reshape(shape)), shape=shape,
                    points=torch.as_tensor(pts, dtype=torch.float32, device=self.engine.device))

    @torch.no_grad()
    def _heavy(self, kl: bool = True) -> None:
        """Grids, divergences and mode coverage from the fixed evaluation batch (KL if ``kl``)."""
        e = self.engine
        loss = losses.get(e.config.loss)
        fake = e.G_drawn(self.z_eval)
        view = self.view
        r = self.yardstick.measure(fake, kl=kl, d_star=view is None)
        p_g = r["p_g"]
        probability = loss.draws == losses.PROBABILITY
        d = None
        if view is None or probability:  # drawn, or needed for V(G, D) on the measuring grid
            d = loss.drawn(e.D_drawn(self.grid_points)).reshape(self.shape).double().cpu().numpy()
        m = {
            "js": r["js"],
            "kl": r["kl"],  # None where p_g's estimate does not cover p_data
            "w1": r["w1"],
            "value_opt": metrics.optimal_value(r["js"]),
            # V(G, D) reads D as a probability; a raw output has no such value.
            "value": metrics.value_function(self.p_data, p_g, d, self.cell) if probability else None,
            "modes_captured": None,
            "modes_total": None,
            "high_quality": None,
        }
        counts = None
        if e.target.is_mixture:
            m.update(
                modes_captured=float(r["modes_captured"]),
                modes_total=float(r["modes_total"]),
                high_quality=float(r["high_quality"]),
            )
            counts = _frozen(r["mode_counts"])
        self._metrics = m
        self.kl_reason = r.get("kl_reason") or None
        if view is not None:  # drawn over the window's view; the metrics above are not
            fields = self._drawn_fields(fake, loss)
        else:
            fields = dict(xs=self.xs, ys=self.ys, p_data=self.p_data,
                          p_g=_frozen(p_g.reshape(self.shape)), d=_frozen(d),
                          d_star=None if loss.d_star is None
                          else _frozen(self._loss_d_star(loss, r["d_star"])))
        self._fields = dict(**fields, mode_counts=counts)
        self._fields_step = e.step

    def _drawn_fields(self, fake, loss) -> dict:
        """D, p_g and D* over the window's view (``self.view``) from generator samples ``fake``."""
        view = self.view
        x = fake.double().cpu().numpy()
        x = x[np.isfinite(x).all(axis=1)]
        d = loss.drawn(self.engine.D_drawn(view["points"])).reshape(view["shape"]).double().cpu().numpy()
        p_g, ratio = metrics.drawn_fields(x, view["xs"], view["ys"], view["p_data"],
                                          d_star=loss.d_star is not None)
        return dict(xs=view["xs"], ys=view["ys"], p_data=view["p_data"],
                    p_g=_frozen(p_g.reshape(view["shape"])), d=_frozen(d),
                    d_star=None if loss.d_star is None else _frozen(self._loss_d_star(loss, ratio)))

    @torch.no_grad()
    def _redraw_fields(self) -> None:
        """The fields over a new view, now; the metrics and mode counts stay those of
        ``fields_step``. A view follows the samples and changes often early in a run:
        measuring the metrics again for each (the Wasserstein assignment, the divergences)
        would cost training twice as much."""
        if self.view is None:  # the measuring grid's fields come with its metrics
            return self._heavy(kl=False)
        loss = losses.get(self.engine.config.loss)
        self._fields.update(self._drawn_fields(self.engine.G_drawn(self.z_eval), loss))

    @staticmethod
    def _loss_d_star(loss, ratio: np.ndarray) -> np.ndarray:
        """The loss's optimal D from the measured D* = p_data / (p_data + p_g).

        Every optimal D in the registry depends on the densities only through
        their ratio, so the pair (D*, 1 - D*) stands for (p_data, p_g); NaN
        (not reliably estimated) stays NaN.
        """
        blank = np.isnan(ratio)
        r = np.where(blank, 0.5, ratio)
        out = np.asarray(loss.d_star(r, 1.0 - r), dtype=np.float64).reshape(ratio.shape)
        out[blank] = np.nan
        return out

    def _light(self) -> dict:
        """The shown fake points and the G-loss gradient on each (the arrows)."""
        e = self.engine
        with torch.no_grad():
            fake = e.G_drawn(self.z_show)
        x = fake.detach().requires_grad_(True)
        with torch.enable_grad():
            # Sum, not mean: each arrow is the gradient a sample gets from its own term.
            out = losses.get(e.config.loss).g_value(e.D_drawn(x)) * len(x)
            (grad,) = torch.autograd.grad(out, x)
        return dict(fake=_frozen(fake.cpu().numpy()), fake_grad=_frozen(grad.cpu().numpy()))

    @torch.no_grad()
    def generated(self) -> np.ndarray:
        """(n_eval, dim) float64 samples of G on the fixed evaluation noise."""
        return self.engine.G_drawn(self.z_eval).double().cpu().numpy()

    def measure(self, force: bool = False) -> dict:
        """Fields and metrics for a snapshot; heavy ones only within the time budget."""
        start = time.perf_counter()
        due = force or self._fields_step < 0 or self._spent <= self._budget * (start - self._born)
        if due:
            # A forced measurement is a result (a schedule's row, a pause, the last step):
            # complete. A refresh within the budget skips KL, most of its cost, so the
            # window's curves get several points a second.
            self._heavy(kl=force or self._fields_step < 0)
        elif self._redraw:  # a new view is drawn at once, budget or not
            self._redraw_fields()
        if due or self._redraw:
            self._redraw = False
            self._spent += time.perf_counter() - start
        e = self.engine
        return dict(
            metrics=dict(self._metrics),
            fields_step=self._fields_step,
            real=self.real_show,
            z=self.z_np,
            mode_centres=None if e.target.centres is None else _frozen(e.target.centres),
            extras={"target": self.target_info},
            **self._fields,
            **self._light(),
        )
