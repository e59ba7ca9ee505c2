"""Each target's sampler against its exact density."""

import numpy as np
import pytest
import torch

from ganviz.core.config import DATA_1D, DATA_2D, ConfigError
from ganviz.core.data import make_target

N = 100_000
#: Targets of one's own: typed mixtures (unequal weights and widths) and a drawn point set.
OWN = ("mixture:10*N(-2;0.4)+N(2;0.1)", "mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3)", "points:drawn")
ALL = DATA_1D + DATA_2D + OWN


def make(name):
    """``make_target``; "points:drawn" registers 2000 points of two 2-D clusters first."""
    if name == "points:drawn":
        from ganviz.core.points import register_points

        rng = np.random.default_rng(3)
        pts = np.r_[rng.normal([-1, 0], 0.3, (1500, 2)), rng.normal([1.5, 1], 0.5, (500, 2))]
        name = register_points(pts, "drawn").data
    return make_target(name)


def _samples(target, n=N, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = target.sample(n, gen)
    assert x.shape == (n, target.dim) and x.dtype == torch.float32
    return x.double().numpy()


def _fine_grid(target, per_axis):
    axes = [np.linspace(lo, hi, per_axis + 1) for lo, hi in target.extent]
    mids = [(a[:-1] + a[1:]) / 2 for a in axes]
    cell = np.prod([a[1] - a[0] for a in axes])
    return axes, mids, cell


@pytest.mark.parametrize("name", ALL)
def test_density_integrates_to_one_over_the_extent(name):
    t = make(name)
    _, mids, cell = _fine_grid(t, 2000 if t.dim == 1 else 240)
    total = t.density_grid(*mids).sum() * cell
    # All targets keep their mass well inside the plotting extent.
    assert total == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("name", ALL)
def test_sample_histogram_matches_density(name):
    """Total variation between the sample histogram and the integrated density."""
    t = make(name)
    coarse, sub = (40, 50) if t.dim == 1 else (20, 12)
    edges, mids, cell = _fine_grid(t, coarse * sub)
    dens = t.density_grid(*mids) * cell  # probability of each fine cell
    if t.dim == 1:
        expected = dens.reshape(coarse, sub).sum(1)
        counts, _ = np.histogram(_samples(t)[:, 0], bins=edges[0][::sub])
    else:
        expected = dens.reshape(coarse, sub, coarse, sub).sum((1, 3))  # rows are y
        x = _samples(t)
        counts, _, _ = np.histogram2d(x[:, 1], x[:, 0], bins=[edges[1][::sub], edges[0][::sub]])
    tv = 0.5 * np.abs(counts / N - expected).sum()
    # Sampling noise alone gives about 0.01 here; a wrong mode, width or
    # weight gives several times more.
    assert tv < 0.03


@pytest.mark.parametrize("name", ALL)
def test_sample_moments_match_density_moments(name):
    t = make(name)
    _, mids, cell = _fine_grid(t, 4000 if t.dim == 1 else 240)
    p = t.density_grid(*mids) * cell
    x = _samples(t)
    if t.dim == 1:
        grid = [mids[0]]
        means = [np.sum(p * mids[0])]
    else:
        gx, gy = np.meshgrid(*mids)
        grid = [gx, gy]
        means = [np.sum(p * gx), np.sum(p * gy)]
    for axis, (g, m) in enumerate(zip(grid, means)):
        sd = np.sqrt(np.sum(p * (g - m) ** 2))
        assert x[:, axis].mean() == pytest.approx(m, abs=4 * sd / np.sqrt(N) + 1e-3)
        assert x[:, axis].std() == pytest.approx(sd, rel=0.01)


def test_known_closed_forms():
    g = make_target("gaussian")
    assert g.density([2.0])[0] == pytest.approx(1 / (0.5 * np.sqrt(2 * np.pi)))
    u = make_target("uniform")
    assert list(u.density([-1.5, 0.0, 2.9, 3.5])) == [0.0, 0.25, 0.25, 0.0]
    ring = make_target("ring8")
    angles = np.arctan2(ring.centres[:, 1], ring.centres[:, 0])
    assert np.allclose(np.sort(np.mod(angles, 2 * np.pi)), 2 * np.pi * np.arange(8) / 8)
    assert np.allclose(np.hypot(*ring.centres.T), 2.0)
    assert make_target("grid25").centres.shape == (25, 2)
    assert make_target("trimodal").centres.shape == (3, 1)


def test_sampling_is_reproducible_from_the_generator():
    t = make_target("spiral")
    a = t.sample(10, torch.Generator().manual_seed(3))
    b = t.sample(10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_unknown_data_lists_accepted_names():
    with pytest.raises(ConfigError, match="ring8"):
        make_target("ring7")
