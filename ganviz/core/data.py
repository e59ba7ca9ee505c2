"""Target distributions: a sampler and the exact density of each.

Every target knows its plotting extent; mixtures also know their mode centres
and widths, for mode coverage. Densities are exact (closed form for mixtures
and the uniform, a fine quadrature along the curve for curve-shaped targets)
because the divergences shown in the app are computed against them.

Besides the named targets, ``data`` can be a typed mixture (``mixture:SPEC``,
:mod:`ganviz.core.mixture`), whose density is exact, or a loaded point set
(``points:PATH``, :mod:`ganviz.core.points`), whose density is the Gaussian
kernel density estimate of the points (Scott's rule per axis; the target says
so: ``estimated`` is True and ``n_points`` the number of points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from . import mixture, points
from .config import ConfigError
from .datakey import check_data


@dataclass(frozen=True)
class Target:
    """A target distribution p_data in 1-D or 2-D.

    Attributes
    ----------
    name : str
        The config name (``data`` key).
    dim : int
        1 or 2.
    extent : tuple of (lo, hi)
        Plotting range per axis, in data units; holds p_data and the region an
        untrained generator starts in.
    centres : ndarray or None
        (m, dim) mode centres for mixture targets, else None.
    std : float
        Width of each mode (or of the noise around a curve; the widest mode of a
        typed mixture; the widest kernel of a point set), data units.
    stds : ndarray or None
        (m,) float64 width of each mode where they differ (typed mixtures).
    weights : ndarray or None
        (m,) float64 mode weights summing to 1 where they may differ (typed mixtures).
    estimated : bool
        True when the density is an estimate from points (``points:`` targets).
    n_points : int
        The number of points the estimate is made from (0 for exact targets).
    bandwidth : tuple of float or None
        The kernel's std per axis, data units, for ``points:`` targets.
    """

    name: str
    dim: int
    extent: tuple[tuple[float, float], ...]
    std: float
    description: str
    centres: np.ndarray | None = None
    _sample: Callable[[int, torch.Generator, torch.device], torch.Tensor] = field(
        default=None, repr=False, compare=False
    )
    _density: Callable[[np.ndarray], np.ndarray] = field(
        default=None, repr=False, compare=False
    )
    _grid: Callable | None = field(default=None, repr=False, compare=False)
    stds: np.ndarray | None = None
    weights: np.ndarray | None = None
    estimated: bool = False
    n_points: int = 0
    bandwidth: tuple[float, ...] | None = None

    @property
    def is_mixture(self) -> bool:
        """True when the target is a mixture of separated modes."""
        return self.centres is not None

    @property
    def mode_std(self) -> np.ndarray | None:
        """(m,) float64 width of each mode for mode coverage; None for a target without modes."""
        if self.centres is None:
            return None
        return self.stds if self.stds is not None else np.full(len(self.centres), self.std)

    def sample(self, n: int, generator: torch.Generator, device=None) -> torch.Tensor:
        """Draw ``n`` samples.

        Parameters
        ----------
        n : int
            Number of samples.
        generator : torch.Generator
            Source of randomness; must live on ``device``.
        device : torch.device, optional
            Where the samples are made (default: the generator's device).

        Returns
        -------
        torch.Tensor
            (n, dim) float32 on ``device``.
        """
        device = torch.device(device) if device is not None else generator.device
        return self._sample(n, generator, device)

    def density(self, points: np.ndarray) -> np.ndarray:
        """Exact density p_data at ``points``.

        Parameters
        ----------
        points : ndarray
            (n, dim) or, in 1-D, (n,) positions in data units.

        Returns
        -------
        ndarray
            (n,) float64, in 1/unit^dim.
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, self.dim)
        return self._density(pts)

    def density_grid(self, *axes: np.ndarray) -> np.ndarray:
        """Exact density on a grid: (n,) for 1-D, (h, w) for 2-D (rows are y).

        Parameters
        ----------
        *axes : ndarray
            ``xs`` in 1-D; ``xs`` (w,) and ``ys`` (h,) in 2-D.
        """
        if self._grid is not None:
            return self._grid(*(np.asarray(a, dtype=np.float64) for a in axes))
        if self.dim == 1:
            return self.density(axes[0])
        xs, ys = axes
        gx, gy = np.meshgrid(xs, ys)
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        return self.density(pts).reshape(len(ys), len(xs))


def make_target(name: str) -> Target:
    """The target that the ``data`` value ``name`` names: a name, ``mixture:SPEC`` or ``points:PATH``.

    Raises ConfigError naming the problem and the accepted forms
    (:func:`ganviz.core.datakey.check_data`).
    """
    data = check_data(name)
    if data.startswith(mixture.PREFIX):
        return _typed_mixture(data)
    if data.startswith(points.PREFIX):
        return _kde(data)
    return _FACTORIES[data]()


# --- building blocks -------------------------------------------------------


def _mixture(name, centres, std, extent, description) -> Target:
    """Equal-weight mixture of isotropic Gaussians."""
    centres = np.asarray(centres, dtype=np.float64).reshape(len(centres), -1)
    m, dim = centres.shape
    c_cache: dict[torch.device, torch.Tensor] = {}

    def sample(n, gen, device):
        if device not in c_cache:
            c_cache[device] = torch.as_tensor(centres, dtype=torch.float32, device=device)
        idx = torch.randint(m, (n,), generator=gen, device=device)
        noise = torch.randn(n, dim, generator=gen, device=device)
        return c_cache[device][idx] + std * noise

    def density(pts):
        sq = ((pts[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        norm = (2 * math.pi * std**2) ** (dim / 2)
        return np.exp(-0.5 * sq / std**2).mean(axis=1) / norm

    return Target(name, dim, extent, std, description, centres, sample, density)


def _curve(name, curve, std, extent, description, nodes=1024) -> Target:
    """A curve c(t), t ~ U(0, 1), blurred by isotropic Gaussian noise of ``std``.

    The density is the average of N(x; c(t), std^2) over t, by the midpoint
    rule on ``nodes`` points; the node spacing along the curve is far below
    ``std``, so the quadrature error is negligible (tested against samples).
    """
    t_nodes = (np.arange(nodes) + 0.5) / nodes
    c_nodes = curve(np, t_nodes)  # (nodes, 2)

    def sample(n, gen, device):
        t = torch.rand(n, generator=gen, device=device)
        noise = torch.randn(n, 2, generator=gen, device=device)
        return curve(torch, t).float() + std * noise

    def density(pts):
        out = np.empty(len(pts))
        norm = 2 * math.pi * std**2
        # Chunks keep the (chunk, nodes) matrix small.
        for start in range(0, len(pts), 2048):
            p = pts[start : start + 2048]
            sq = ((p[:, None, :] - c_nodes[None, :, :]) ** 2).sum(-1)
            out[start : start + 2048] = np.exp(-0.5 * sq / std**2).mean(axis=1) / norm
        return out

    return Target(name, 2, extent, std, description, None, sample, density)


def _uniform(name, lo, hi, extent, description) -> Target:
    def sample(n, gen, device):
        return lo + (hi - lo) * torch.rand(n, 1, generator=gen, device=device)

    def density(pts):
        x = pts[:, 0]
        return np.where((x >= lo) & (x <= hi), 1.0 / (hi - lo), 0.0)

    return Target(name, 1, extent, (hi - lo) / math.sqrt(12), description, None, sample, density)


def _gaussian2d(name, mean, cov, extent, description) -> Target:
    mean = np.asarray(mean, dtype=np.float64)
    cov = np.asarray(cov, dtype=np.float64)
    chol = np.linalg.cholesky(cov)
    inv = np.linalg.inv(cov)
    norm = 2 * math.pi * math.sqrt(np.linalg.det(cov))

    def sample(n, gen, device):
        z = torch.randn(n, 2, generator=gen, device=device)
        L = torch.as_tensor(chol, dtype=torch.float32, device=device)
        return torch.as_tensor(mean, dtype=torch.float32, device=device) + z @ L.T

    def density(pts):
        d = pts - mean
        return np.exp(-0.5 * np.einsum("ni,ij,nj->n", d, inv, d)) / norm

    std = float(np.sqrt(np.linalg.eigvalsh(cov).max()))
    return Target(name, 2, extent, std, description, None, sample, density)


def _gauss_sum(centres, scales, weights):
    """Density and grid functions of sum_k w_k N(x; c_k, diag(s_k^2)).

    ``centres`` (m, d), ``scales`` (m, d), ``weights`` (m,) summing to 1. The
    kernels are products over the axes, so on a grid the 2-D sum is one matrix
    product, Ky diag(w) Kx^T: the cost grows as m (h + w), not m h w, which is
    what lets a point set of 10^6 points be evaluated on the view grid.
    """
    m, dim = centres.shape
    norm = weights / np.prod(np.sqrt(2 * math.pi) * scales, axis=1)  # (m,)

    def density(pts):
        out = np.empty(len(pts))
        step = max(1, 4_000_000 // m)  # (step, m) temporaries of ~32 MB
        for start in range(0, len(pts), step):
            p = pts[start : start + step]
            z = (((p[:, None, :] - centres[None, :, :]) / scales[None, :, :]) ** 2).sum(-1)
            out[start : start + step] = np.exp(-0.5 * z) @ norm
        return out

    inv = 1.0 / scales

    def factor(axis_values, j, lo, hi):
        # exp(-((v - c) / s)^2 / 2), in place: these are the big arrays.
        z = np.subtract.outer(axis_values, centres[lo:hi, j])
        z *= inv[lo:hi, j]
        np.square(z, out=z)
        z *= -0.5
        # Kernels below e^-300 are set to 0: the density there is ~1e-130 anyway,
        # and subnormal numbers slow the exponential and the matrix product ~10x.
        z[z < -300.0] = -np.inf
        return np.exp(z, out=z)

    def grid(*axes):
        out = np.zeros(tuple(len(a) for a in reversed(axes)))  # (n,) or (h, w)
        block = max(1, 4_000_000 // sum(len(a) for a in axes))
        for lo in range(0, m, block):
            hi = min(m, lo + block)
            if dim == 1:
                out += factor(axes[0], 0, lo, hi) @ norm[lo:hi]
            else:
                kx, ky = factor(axes[0], 0, lo, hi), factor(axes[1], 1, lo, hi)
                out += (ky * norm[lo:hi]) @ kx.T
        return out

    return density, grid


def _weighted_sampler(centres, scales, weights):
    """Samples of sum_k w_k N(c_k, diag(s_k^2)) from the run's generator (equal weights: randint)."""
    m, dim = centres.shape
    equal = bool(np.all(weights == weights[0]))
    cache: dict[torch.device, tuple] = {}

    def sample(n, gen, device):
        if device not in cache:
            cache[device] = tuple(torch.tensor(np.asarray(a, dtype=np.float32), device=device)
                                  for a in (centres, scales, weights))
        c, s, w = cache[device]
        if equal:
            idx = torch.randint(m, (n,), generator=gen, device=device)
        else:
            idx = torch.multinomial(w, n, replacement=True, generator=gen)
        noise = torch.randn(n, dim, generator=gen, device=device)
        return c[idx] + s[idx] * noise

    return sample


def _typed_mixture(data: str) -> Target:
    """A ``mixture:`` target: exact density, every component a mode."""
    spec = mixture.parse_mixture(data)
    # Copies: the parsed spec is shared (cached) and read-only; torch wants writable arrays.
    means, stds, weights = spec.means.copy(), spec.stds.copy(), spec.weights.copy()
    scales = np.repeat(stds[:, None], spec.dim, axis=1)
    density, grid = _gauss_sum(means, scales, weights)
    return Target(data, spec.dim, spec.extent(), float(stds.max()), spec.describe(),
                  means, stds=stds, weights=weights,
                  _sample=_weighted_sampler(means, scales, weights),
                  _density=density, _grid=grid)


def _kde(data: str) -> Target:
    """A ``points:`` target: the Gaussian kernel density estimate of the points.

    Bandwidth by Scott's rule per axis, h_j = s_j n^(-1/(d+4)) with s_j the
    sample std (ddof 1) along axis j (:func:`ganviz.core.points.bandwidth`),
    or the H of ``@kde:H`` on every axis.
    A product kernel, so sampling is a point plus independent Gaussian noise
    per axis and the grid density one matrix product. The view spans the
    points plus 4 h_j and 5 % of their range on each side.
    """
    found = points.resolve_points(data)  # checked: the view grid resolves the kernel
    if found.fit.startswith("gmm"):
        return _fitted(data, found)
    pts = found.points
    n, dim = pts.shape
    h = found.bandwidth
    scales = np.broadcast_to(h, (n, dim))
    weights = np.full(n, 1.0 / n)
    density, grid = _gauss_sum(pts, scales, weights)
    where = "drawn" if found.source == "drawn" else (
        "a preset's" if found.source == "inline" else found.source)
    return Target(data, dim, found.extent, float(h.max()),
                  f"kernel density estimate from {n:,} points ({where}), "
                  + ("Scott's rule" if found.fixed_bandwidth is None else f"h = {h[0]:.3g}"),
                  estimated=True, n_points=n, bandwidth=tuple(float(v) for v in h),
                  _sample=_weighted_sampler(pts, scales, weights), _density=density, _grid=grid)


def _fitted(data: str, found) -> Target:
    """A ``points:...@gmm[:K]`` target: the Gaussian mixture fitted to the points by EM.

    Its density is that of the fit, exact for the fit and an estimate of the
    points' distribution (``estimated`` True); every component is a mode.
    """
    fit, extent = mixture.fit_point_set(found)
    spec = fit.spec
    means, stds, weights = spec.means.copy(), spec.stds.copy(), spec.weights.copy()
    scales = np.repeat(stds[:, None], spec.dim, axis=1)
    density, grid = _gauss_sum(means, scales, weights)
    k, n = len(weights), len(found.points)
    how = "chosen by BIC" if fit.chosen else "given"
    return Target(data, spec.dim, extent, float(stds.max()),
                  f"Gaussian mixture of {k} ({how}) fitted by EM to {n:,} points",
                  means, stds=stds, weights=weights, estimated=True, n_points=n,
                  _sample=_weighted_sampler(means, scales, weights),
                  _density=density, _grid=grid)


# --- the curves, written once for numpy and torch (``xp`` is the module) ---


def _circle(xp, t):
    a = 2 * math.pi * t
    return xp.stack([2.0 * xp.cos(a), 2.0 * xp.sin(a)], -1)


def _spiral(xp, t):
    a = 0.5 * math.pi + 3.5 * math.pi * t
    r = 0.3 + 2.4 * t
    return xp.stack([r * xp.cos(a), r * xp.sin(a)], -1)


def _moons(xp, t):
    # sklearn's two moons, scaled by 1.5 and centred: t < 1/2 the upper moon.
    upper = t < 0.5
    s = math.pi * xp.where(upper, 2 * t, 2 * t - 1)
    x = xp.where(upper, xp.cos(s), 1 - xp.cos(s))
    y = xp.where(upper, xp.sin(s), 0.5 - xp.sin(s))
    return xp.stack([1.5 * (x - 0.5), 1.5 * (y - 0.25)], -1)


_RING = [(2 * math.cos(2 * math.pi * i / 8), 2 * math.sin(2 * math.pi * i / 8)) for i in range(8)]
_GRID = [(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)]

_FACTORIES: dict[str, Callable[[], Target]] = {
    "gaussian": lambda: _mixture(
        "gaussian", [[2.0]], 0.5, ((-2.0, 5.0),), "N(2, 0.5^2)"
    ),
    "bimodal": lambda: _mixture(
        "bimodal", [[-2.0], [2.0]], 0.4, ((-4.0, 4.0),), "two Gaussians at -2 and 2, std 0.4"
    ),
    "trimodal": lambda: _mixture(
        "trimodal", [[-3.0], [0.0], [3.0]], 0.4, ((-5.0, 5.0),),
        "three Gaussians at -3, 0 and 3, std 0.4",
    ),
    "uniform": lambda: _uniform("uniform", -1.0, 3.0, ((-3.0, 5.0),), "U(-1, 3)"),
    "far-gaussian": lambda: _mixture(
        "far-gaussian", [[6.0]], 0.5, ((-2.0, 8.0),),
        "N(6, 0.5^2), far from where an untrained generator puts its mass",
    ),
    "ring8": lambda: _mixture(
        "ring8", _RING, 0.1, ((-3.0, 3.0), (-3.0, 3.0)),
        "8 Gaussians on a circle of radius 2, std 0.1",
    ),
    "grid25": lambda: _mixture(
        "grid25", _GRID, 0.1, ((-5.5, 5.5), (-5.5, 5.5)),
        "5x5 Gaussians 2 apart, std 0.1",
    ),
    "spiral": lambda: _curve(
        "spiral", _spiral, 0.1, ((-3.5, 3.5), (-3.5, 3.5)), "a spiral of 1.75 turns, noise 0.1"
    ),
    "moons": lambda: _curve(
        "moons", _moons, 0.1, ((-3.0, 3.0), (-3.0, 3.0)), "two interleaved half circles, noise 0.1"
    ),
    "circle": lambda: _curve(
        "circle", _circle, 0.1, ((-3.0, 3.0), (-3.0, 3.0)), "a circle of radius 2, noise 0.1"
    ),
    "gaussian2d": lambda: _gaussian2d(
        "gaussian2d", [0.8, 0.4], [[0.3, 0.15], [0.15, 0.2]], ((-3.0, 3.0), (-3.0, 3.0)),
        "a correlated Gaussian centred at (0.8, 0.4)",
    ),
}
