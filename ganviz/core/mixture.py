"""Typed targets: a Gaussian mixture written as ``mixture:SPEC`` (torch-free).

The spec is a sum of isotropic Gaussian components, each an optional weight
times ``N(mean; std)``, the mean one number in 1-D or two (``x,y``) in 2-D::

    mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3)
    mixture:N(-2;0.5)+N(2;0.5)            (weights omitted: equal)
    mixture:10*N(-2;0.4)+N(2;0.4)         (weights are normalised: 10/11 and 1/11)

Components are separated by ``+`` (a comma between components is accepted
too); spaces are ignored. Weights must be positive, stds positive, every
number finite, and all components of one dimension. The canonical text
(:func:`MixtureSpec.text`) is what the config keeps: normalised weights to 12
significant digits (left out when all are equal), means and stds as the
shortest text that reads back as the same float, components in the order
given (mode k of mode coverage is component k). The target is built from the
canonical text, so equal texts are equal targets, bit for bit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import ConfigError

PREFIX = "mixture:"
#: The most components a spec may have (mode coverage costs one distance per mode and sample).
MAX_COMPONENTS = 100
#: View grid points per axis (the Yardstick's defaults): the narrowest component
#: must be at least one grid cell wide, or p_data on the grid would miss its mass.
GRID_POINTS = {1: 512, 2: 100}
#: Each axis of the view spans the components' means +- this many stds, plus 5 % each side.
EXTENT_STDS = 4.0
FORM = "mixture:W*N(MEAN;STD)+..., MEAN one number (1-D) or x,y (2-D), e.g. " \
       "mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3)"

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_COMPONENT = re.compile(
    rf"(?:(?P<w>{_NUM})\*)?N\((?P<mean>[^;()]*);(?P<std>[^;()]*)\)")


@dataclass(frozen=True)
class MixtureSpec:
    """A Gaussian mixture with isotropic components.

    Attributes
    ----------
    weights : ndarray
        (m,) float64, positive, summing to 1.
    means : ndarray
        (m, dim) float64, data units.
    stds : ndarray
        (m,) float64, data units.
    """

    weights: np.ndarray
    means: np.ndarray
    stds: np.ndarray

    @property
    def dim(self) -> int:
        """1 or 2."""
        return self.means.shape[1]

    def text(self) -> str:
        """The canonical ``mixture:...`` text of this spec."""
        equal = bool(np.all(self.weights == self.weights[0]))
        parts = []
        for w, mean, s in zip(self.weights, self.means, self.stds):
            weight = "" if equal else f"{_weight(w)}*"
            parts.append(f"{weight}N({','.join(_num(v) for v in mean)};{_num(s)})")
        return PREFIX + "+".join(parts)

    def extent(self) -> tuple[tuple[float, float], ...]:
        """The view: per axis, the means +- EXTENT_STDS stds, widened by 5 % each side."""
        lo = (self.means - EXTENT_STDS * self.stds[:, None]).min(axis=0)
        hi = (self.means + EXTENT_STDS * self.stds[:, None]).max(axis=0)
        pad = 0.05 * (hi - lo)
        return tuple((float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad))

    def describe(self) -> str:
        """A short description for the window and the docs."""
        m = len(self.weights)
        return f"a mixture of {m} Gaussian{'s' if m > 1 else ''} in {self.dim}-D"


def sample_mixture(spec: MixtureSpec, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples of ``spec`` with numpy (the window's export; training samples with torch).

    Returns
    -------
    ndarray
        (n, dim) float64, data units.
    """
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(spec.weights), size=n, p=spec.weights)
    return spec.means[idx] + spec.stds[idx, None] * rng.standard_normal((n, spec.dim))


def _num(x: float) -> str:
    """Shortest text that reads back as the same float, without a trailing ``.0``."""
    text = repr(float(x))
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def _weight(w: float) -> str:
    return _num(float(f"{w:.12g}"))


def parse_mixture(text: str) -> MixtureSpec:
    """The spec written in ``text`` (``mixture:...``), checked.

    Parameters
    ----------
    text : str
        ``mixture:`` followed by components (module docstring).

    Returns
    -------
    MixtureSpec
        Weights normalised. Built from the canonical text, so two texts with
        the same canonical form give identical arrays.

    Raises
    ------
    ConfigError
        One line naming what is wrong (junk text, a non-positive weight or
        std, a non-finite number, mixed dimensions, too many components, a
        component narrower than a grid cell) and the accepted form.
    """
    return _parse_canonical(canonical_mixture(text))


def mixture_data(weights, means, stds) -> str:
    """The canonical ``mixture:`` text of components given as arrays (e.g. from an editor).

    Parameters
    ----------
    weights : array_like
        (m,) positive; normalised here.
    means : array_like
        (m,) in 1-D or (m, dim), data units.
    stds : array_like
        (m,) positive, data units.

    Raises
    ------
    ConfigError
        As :func:`parse_mixture` for the same components.
    """
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    mu = np.asarray(means, dtype=np.float64)
    mu = mu.reshape(len(mu), -1)
    s = np.asarray(stds, dtype=np.float64).reshape(-1)
    if not len(w) == len(mu) == len(s):
        raise ConfigError(f"mixture: {len(w)} weights, {len(mu)} means and {len(s)} stds; "
                          "give one of each per component")
    parts = [f"{repr(float(a))}*N({','.join(repr(float(v)) for v in m)};{repr(float(b))})"
             for a, m, b in zip(w, mu, s)]
    return canonical_mixture(PREFIX + "+".join(parts))


def canonical_mixture(text: str) -> str:
    """The canonical form of a ``mixture:`` text; ConfigError if it is malformed."""
    return _canonical(text.strip())


@lru_cache(maxsize=256)
def _canonical(text: str) -> str:
    spec = _parse_raw(text)
    # Fixed point: the canonical text, read again, prints as itself.
    for _ in range(3):
        again = _parse_raw(spec.text())
        if again.text() == spec.text():
            break
        spec = again
    return spec.text()


@lru_cache(maxsize=256)
def _parse_canonical(text: str) -> MixtureSpec:
    spec = _parse_raw(text)
    for a in (spec.weights, spec.means, spec.stds):
        a.flags.writeable = False
    return spec


def _parse_raw(text: str) -> MixtureSpec:
    if not text.startswith(PREFIX):
        raise ConfigError(f"a mixture starts with {PREFIX!r}; accepted: {FORM}")
    body = re.sub(r"\s+", "", text[len(PREFIX):])
    if not body:
        raise ConfigError(f"mixture has no components; accepted: {FORM}")
    weights, means, stds = [], [], []
    pos = 0
    while pos < len(body):
        if means:
            if body[pos] not in "+,":
                raise ConfigError(f"mixture: expected '+' before {body[pos:][:20]!r}; "
                                  f"accepted: {FORM}")
            pos += 1
        match = _COMPONENT.match(body, pos)
        if match is None:
            raise ConfigError(f"mixture: cannot read component {len(means) + 1} at "
                              f"{body[pos:][:20]!r}; accepted: {FORM}")
        k = len(means) + 1
        w = 1.0 if match["w"] is None else _finite(match["w"], f"weight of component {k}")
        if w <= 0:
            raise ConfigError(f"mixture: the weight of component {k} is {match['w']}; "
                              "weights must be > 0")
        mean = [_finite(v, f"mean of component {k}") for v in match["mean"].split(",")]
        if len(mean) not in (1, 2):
            raise ConfigError(f"mixture: component {k} has a {len(mean)}-number mean; "
                              "accepted: one number (1-D) or x,y (2-D)")
        if means and len(mean) != len(means[0]):
            raise ConfigError(f"mixture: component {k} is {len(mean)}-D but component 1 is "
                              f"{len(means[0])}-D; all components must be of one dimension")
        s = _finite(match["std"], f"std of component {k}")
        if s <= 0:
            raise ConfigError(f"mixture: the std of component {k} is {match['std']}; "
                              "stds must be > 0")
        weights.append(w)
        means.append(mean)
        stds.append(s)
        pos = match.end()
        if len(means) > MAX_COMPONENTS:
            raise ConfigError(f"mixture has more than {MAX_COMPONENTS} components; "
                              f"accepted: 1 to {MAX_COMPONENTS}")
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if not math.isfinite(total):
        raise ConfigError("mixture: the weights' sum overflows; give smaller weights")
    spec = MixtureSpec(w / total, np.asarray(means, dtype=np.float64),
                       np.asarray(stds, dtype=np.float64))
    _check_resolution(spec)
    return spec


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"mixture: the {what} is {text!r}, not a number; "
                          f"accepted: {FORM}") from None
    if not math.isfinite(value) or abs(value) > 1e15:
        raise ConfigError(f"mixture: the {what} is {text}; accepted: finite numbers "
                          "up to 1e15 in size")
    return value


def _check_resolution(spec: MixtureSpec, extent=None, what: str = "mixture") -> None:
    """The narrowest component must span a cell of the view grid, or its mass falls between points."""
    extent = extent or spec.extent()
    span = max(hi - lo for lo, hi in extent)
    cells = GRID_POINTS[spec.dim] - 1
    narrowest = float(spec.stds.min())
    if narrowest < span / cells:
        raise ConfigError(
            f"{what}: std {_num(narrowest)} is narrower than a cell of the view "
            f"({span:.4g} wide, {cells} cells in {spec.dim}-D): the smallest accepted std "
            f"here is {span / cells:.3g}; bring the components closer or widen them")


# --- fitting a mixture to points (``points:PATH@gmm``) -----------------------

#: Components tried when the number is not given: the one with the lowest BIC is kept.
FIT_MAX_K = 8
#: A fit uses at most this many points (a fixed-seed subsample of more): EM costs n k per
#: iteration, and 10^5 points pin a few components' parameters far below what the view shows.
FIT_POINTS = 100_000
#: EM starts (k-means++ seeds, fixed seed); the one of highest likelihood is kept.
FIT_STARTS = 3
FIT_ITERATIONS = 200
FIT_TOL = 1e-7  # relative change of the mean log-likelihood that ends EM


@dataclass(frozen=True)
class MixtureFit:
    """A Gaussian mixture fitted to points by EM.

    Attributes
    ----------
    spec : MixtureSpec
        The fitted isotropic components (weights sum to 1).
    loglik : float
        Mean log-likelihood per point of the points fitted, nats.
    bic : float
        Bayesian information criterion, -2 n loglik + p ln n, p = k (dim + 2) - 1.
    n_fitted : int
        The points the fit used (all, or FIT_POINTS of them).
    chosen : bool
        True when k was chosen by BIC.
    """

    spec: MixtureSpec
    loglik: float
    bic: float
    n_fitted: int
    chosen: bool


def fit_mixture(points, k: int | None = None, *, seed: int = 0) -> MixtureFit:
    """Fit a mixture of ``k`` isotropic Gaussians to ``points`` by EM (numpy, fixed seed).

    Isotropic components, so the fit is a ``mixture:`` spec like a typed one
    and its modes count for mode coverage as a typed mixture's do.

    Parameters
    ----------
    points : ndarray
        (n, dim) float64, data units, dim 1 or 2.
    k : int, optional
        Components, 1 to MAX_COMPONENTS; None: k = 1, 2, ... FIT_MAX_K are
        fitted and the lowest BIC kept (the search stops when BIC rises twice
        in a row).
    seed : int
        Seeds the subsample (more than FIT_POINTS points) and the k-means++ starts.

    Returns
    -------
    MixtureFit

    Raises
    ------
    ConfigError
        ``k`` out of range, or more components than points.
    """
    x = np.asarray(points, dtype=np.float64)
    x = x.reshape(len(x), -1)
    rng = np.random.default_rng(seed)
    if len(x) > FIT_POINTS:
        x = x[np.sort(rng.choice(len(x), FIT_POINTS, replace=False))]
    if k is not None and not 1 <= k <= min(MAX_COMPONENTS, len(x)):
        raise ConfigError(f"gmm:{k}: the number of components must be between 1 and "
                          f"{min(MAX_COMPONENTS, len(x))}")
    ks = [k] if k is not None else range(1, min(FIT_MAX_K, len(x)) + 1)
    best, worse = None, 0
    for kk in ks:
        spec, ll = _em_best(x, kk, rng)
        p = kk * (x.shape[1] + 2) - 1
        bic = -2.0 * len(x) * ll + p * math.log(len(x))
        if best is None or bic < best.bic:
            best, worse = MixtureFit(spec, ll, bic, len(x), k is None), 0
        else:
            worse += 1
            if worse == 2:  # BIC rose twice in a row: more components only overfit
                break
    return best


def _em_best(x: np.ndarray, k: int, rng) -> tuple[MixtureSpec, float]:
    best = None
    for _ in range(FIT_STARTS if k > 1 else 1):
        w, mu, s, ll = _em(x, _kmeanspp(x, k, rng))
        if best is None or ll > best[3]:
            best = (w, mu, s, ll)
    w, mu, s, ll = best
    order = np.lexsort(mu.T[::-1])  # components sorted by x (then y): a stable mode order
    return MixtureSpec(w[order], mu[order], s[order]), ll


def _kmeanspp(x: np.ndarray, k: int, rng) -> np.ndarray:
    """k-means++ seeds: each next centre drawn with probability proportional to d^2."""
    centres = [x[rng.integers(len(x))]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        total = d2.sum()
        i = rng.integers(len(x)) if total <= 0 else rng.choice(len(x), p=d2 / total)
        centres.append(x[i])
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(1))
    return np.array(centres)


def _em(x: np.ndarray, mu: np.ndarray):
    """EM for isotropic components from means ``mu``; (weights, means, stds, mean loglik)."""
    n, d = x.shape
    k = len(mu)
    xx = (x * x).sum(axis=1)
    var0 = float(x.var(axis=0).mean())
    floor = 1e-6 * var0  # a component on one point would otherwise collapse to a spike
    var = np.full(k, var0)
    w = np.full(k, 1.0 / k)
    ll_old = -np.inf
    ll = -np.inf
    for _ in range(FIT_ITERATIONS):
        # ||x - mu||^2 expanded: one (n, dim) x (dim, k) product per iteration.
        sq = np.maximum(xx[:, None] - 2.0 * (x @ mu.T) + (mu * mu).sum(axis=1)[None, :], 0.0)
        logp = np.log(w) - 0.5 * d * np.log(2 * math.pi * var) - 0.5 * sq / var
        top = logp.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))
        ll = float(lse.mean())
        r = np.exp(logp - lse[:, None])  # responsibilities, (n, k)
        nk = r.sum(axis=0) + 1e-300
        mu = (r.T @ x) / nk[:, None]
        var = np.maximum((r.T @ xx - nk * (mu * mu).sum(axis=1)) / (d * nk), floor)
        w = np.maximum(nk / n, 1e-12)
        w /= w.sum()
        if abs(ll - ll_old) <= FIT_TOL * max(1.0, abs(ll)):
            break
        ll_old = ll
    return w, mu, np.sqrt(var), ll


_fits: dict[tuple[str, int | None], MixtureFit] = {}


def fit_point_set(found) -> tuple[MixtureFit, tuple[tuple[float, float], ...]]:
    """The fit a ``points:...@gmm[:K]`` target names, and its view; once per digest and K.

    Parameters
    ----------
    found : ganviz.core.points.PointSet
        Its ``fit`` is ``gmm`` or ``gmm:K``.

    Returns
    -------
    (MixtureFit, extent)
        The view spans the points' and the components' own extents.

    Raises
    ------
    ConfigError
        K out of range, or a fitted component narrower than a cell of the view.
    """
    key = (found.digest, found.fit_k)
    if key not in _fits:
        _fits[key] = fit_mixture(found.points, found.fit_k)
    fit = _fits[key]
    extent = tuple((min(a[0], b[0]), max(a[1], b[1]))
                   for a, b in zip(found.extent, fit.spec.extent()))
    _check_resolution(fit.spec, extent, f"the {len(fit.spec.weights)}-component fit of "
                      f"{found.source}")
    return fit, extent
