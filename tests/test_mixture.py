"""Typed targets, data=mixture:SPEC: the parser, its canonical text, the exact density, modes."""

import math

import numpy as np
import pytest
import torch

from ganviz.core import metrics
from ganviz.core.config import Config, ConfigError
from ganviz.core.data import make_target
from ganviz.core.mixture import canonical_mixture, mixture_data, parse_mixture


@pytest.mark.parametrize("text, canonical", [
    ("mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3)", "mixture:0.9*N(0,0;0.1)+0.1*N(2,2;0.3)"),
    ("mixture:N(-2;0.5)+N(2;0.5)", "mixture:N(-2;0.5)+N(2;0.5)"),
    ("mixture:0.5*N(-2;0.5)+0.5*N(2;0.5)", "mixture:N(-2;0.5)+N(2;0.5)"),  # equal: no weights
    (" mixture: 10 * N( -2 ; 0.4 ) , N(2;0.4) ",  # spaces, a comma between components
     "mixture:0.909090909091*N(-2;0.4)+0.0909090909091*N(2;0.4)"),
    ("mixture:1*N(1.50;2e-1)+3*N(-0.0;.25)", "mixture:0.25*N(1.5;0.2)+0.75*N(0;0.25)"),
    ("mixture:N(3,-1;1)", "mixture:N(3,-1;1)"),
])
def test_canonical_text(text, canonical):
    assert canonical_mixture(text) == canonical
    assert canonical_mixture(canonical) == canonical  # a fixed point
    assert Config(data=text).data == canonical  # the config keeps the canonical form


def test_parsed_values_and_dimension():
    spec = parse_mixture("mixture:3*N(0,1;0.1)+N(2,-2;0.3)")
    assert spec.dim == 2
    assert np.allclose(spec.weights, [0.75, 0.25]) and math.isclose(spec.weights.sum(), 1.0)
    assert np.array_equal(spec.means, [[0, 1], [2, -2]])
    assert np.array_equal(spec.stds, [0.1, 0.3])
    assert Config(data="mixture:N(-2;0.5)+N(2;0.5)", z_dim=1).dim == 1
    assert Config(data="mixture:N(0,0;0.5)").dim == 2


def test_same_canonical_text_is_the_same_target_bit_for_bit():
    a = make_target("mixture:1*N(-1;0.3)+2*N(1;0.3)")
    b = make_target("mixture: 0.333333333333 * N(-1;0.3) + 0.666666666667*N(1;0.3)")
    assert a.name == b.name
    assert np.array_equal(a.weights, b.weights)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(a.sample(1000, g1, "cpu"), b.sample(1000, g2, "cpu"))


@pytest.mark.parametrize("text, words", [
    ("mixture:", "no components"),
    ("mixture:hello", "cannot read component 1"),
    ("mixture:N(0;1)junk", "expected '+'"),
    ("mixture:N(0;1)+", "cannot read component 2"),
    ("mixture:N(0;-1)", "std of component 1 is -1; stds must be > 0"),
    ("mixture:N(0;0)", "stds must be > 0"),
    ("mixture:N(0;1)+0*N(1;1)", "weight of component 2 is 0; weights must be > 0"),
    ("mixture:-2*N(0;1)", "weights must be > 0"),
    ("mixture:N(0;1)+N(0,0;1)", "component 2 is 2-D but component 1 is 1-D"),
    ("mixture:N(0,0,0;1)", "3-number mean; accepted: one number (1-D) or x,y (2-D)"),
    ("mixture:N(a;1)", "mean of component 1 is 'a', not a number"),
    ("mixture:N(nan;1)", "finite numbers"),
    ("mixture:N(0;inf)", "finite numbers"),
    ("mixture:N(1e400;1)", "finite numbers"),
    ("mixture:N(0;0.01)+N(100;0.01)", "narrower than a cell of the view"),
    ("mixture:" + "+".join(["N(0;1)"] * 101), "more than 100 components"),
])
def test_malformed_spec_is_one_line_config_error(text, words):
    with pytest.raises(ConfigError) as info:
        Config(data=text)
    message = str(info.value)
    assert words in message and "\n" not in message


def test_density_is_the_closed_form():
    t = make_target("mixture:0.2*N(-1,0;0.3)+0.8*N(1,1;0.6)")
    pts = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 1.0], [3.0, -2.0]])

    def normal(x, m, s):
        return np.exp(-0.5 * ((x - m) ** 2).sum(-1) / s**2) / (2 * math.pi * s**2)

    truth = 0.2 * normal(pts, np.array([-1, 0]), 0.3) + 0.8 * normal(pts, np.array([1, 1]), 0.6)
    assert np.allclose(t.density(pts), truth, rtol=1e-13, atol=0)
    xs, ys = (np.linspace(*e, 201) for e in t.extent)
    grid = t.density_grid(xs, ys)
    gx, gy = np.meshgrid(xs, ys)
    point_by_point = t.density(np.stack([gx.ravel(), gy.ravel()], 1)).reshape(grid.shape)
    assert np.allclose(grid, point_by_point, rtol=1e-12, atol=1e-300)
    assert grid.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0]) == pytest.approx(1.0, abs=1e-4)


def test_samples_follow_the_weights_and_widths():
    t = make_target("mixture:10*N(-2;0.4)+N(2;0.1)")
    x = t.sample(200_000, torch.Generator().manual_seed(0), "cpu").numpy()[:, 0]
    left, right = x[x < 0], x[x > 0]
    # Binomial share 10/11: its std at 2e5 draws is 6.4e-4.
    assert len(left) / len(x) == pytest.approx(10 / 11, abs=3e-3)
    assert left.std() == pytest.approx(0.4, rel=0.01) and right.std() == pytest.approx(0.1, rel=0.02)
    assert t.is_mixture and np.array_equal(t.mode_std, [0.4, 0.1])


def test_mode_coverage_counts_each_mode_in_its_own_stds():
    # A wide mode at 0 (std 1) and a narrow one at 2 (std 0.1).
    centres, stds = np.array([[0.0], [2.0]]), np.array([1.0, 0.1])
    # 1.5 is nearer the narrow centre, but 5 of its stds away and 1.5 of the wide
    # one's: high quality, the wide mode's. 2.05 is the narrow mode's (0.5 of its
    # stds); 2.5 is 5 narrow stds and 2.5 wide ones away: the wide mode's; -3.5 is
    # 3.5 wide stds away: low quality.
    x = np.array([[1.5], [2.05], [2.5], [-3.5]])
    cov = metrics.mode_coverage(x, centres, stds)
    assert list(cov["counts"]) == [2, 1] and cov["high_quality"] == 0.75
    # Were both modes narrow, only 2.05 would be high quality.
    assert metrics.mode_coverage(x, centres, 0.1)["high_quality"] == 0.25


def test_measure_takes_a_mixture_and_counts_its_modes():
    data = "mixture:10*N(-2;0.4)+N(2;0.4)"
    t = make_target(data)
    perfect = t.sample(10_000, torch.Generator().manual_seed(1), "cpu")
    r = metrics.measure(data, perfect)
    assert r["modes_total"] == 2 and r["modes_captured"] == 2
    assert r["js"] < 0.005 and r["p_data_estimated"] is False and r["n_points"] == 0
    # The collapse the heavy mode invites: every sample on it.
    collapsed = -2 + 0.4 * torch.randn(10_000, 1, generator=torch.Generator().manual_seed(2))
    r = metrics.measure(data, collapsed)
    assert r["modes_captured"] == 1 and list(r["mode_counts"])[1] == 0
    assert 0.02 < r["js"] < 0.1  # JS of 10/11 N(-2) + 1/11 N(2) against N(-2): ~0.04


def test_an_editor_writes_components_as_canonical_text():
    assert mixture_data([2, 1], [[0, 0], [1.5, -1]], [0.2, 0.3]) == \
        "mixture:0.666666666667*N(0,0;0.2)+0.333333333333*N(1.5,-1;0.3)"
    assert mixture_data([1, 1], [-2, 2], [0.5, 0.5]) == "mixture:N(-2;0.5)+N(2;0.5)"
    with pytest.raises(ConfigError, match="stds must be > 0"):
        mixture_data([1], [0], [-1])
    with pytest.raises(ConfigError, match="one of each per component"):
        mixture_data([1, 1], [0], [1])
