"""The probe's numbers, end to end through the app's own path, against known values."""

import math

import numpy as np
import pytest
import torch

from ganviz.core.config import Config
from ganviz.core.trainer import Engine
from ganviz.core.probe import Probe, build_snapshot


class Affine(torch.nn.Module):
    """G(z) = shift + scale * z[:, :dim]: a generator whose p_g is known exactly."""

    def __init__(self, shift, scale):
        super().__init__()
        self.shift = torch.tensor(shift, dtype=torch.float32)
        self.scale = scale

    def forward(self, z):
        return self.shift + self.scale * z[:, : len(self.shift)]


class RingSampler(torch.nn.Module):
    """A perfect ring8 generator: z -> a mode centre (from z[:, 0]) plus 0.1 z[:, 1:3]."""

    def __init__(self, centres, collapse=False):
        super().__init__()
        self.c = torch.tensor(centres, dtype=torch.float32)
        self.collapse = collapse

    def forward(self, z):
        idx = torch.zeros(len(z), dtype=torch.long) if self.collapse else (
            (torch.special.ndtr(z[:, 0]) * 8).long().clamp(0, 7))
        return self.c[idx] + 0.1 * z[:, 1:3]


def probe_with(config, generator):
    e = Engine(config)
    e.G = generator
    return Probe(e), e


def test_matching_generator_reads_js_near_zero_and_d_star_half():
    probe, _ = probe_with(Config(data="gaussian", z_dim=1), Affine([2.0], 0.5))
    out = probe.measure(force=True)
    assert out["metrics"]["js"] < 0.005
    inside = out["p_data"] > 0.05
    assert np.abs(out["d_star"][inside] - 0.5).max() < 0.06
    assert out["metrics"]["value_opt"] == pytest.approx(-math.log(4), abs=0.01)
    assert out["metrics"]["w1"] < 0.05


@pytest.mark.parametrize("d, js", [(1.0, 0.111421), (2.0, 0.336831)])
def test_shifted_generator_reads_the_reference_js(d, js):
    # N(2, 0.5^2) against N(2 + d/2, 0.5^2): the REFERENCES table at distance d sd.
    probe, _ = probe_with(Config(data="gaussian", z_dim=1), Affine([2.0 + 0.5 * d], 0.5))
    m = probe.measure(force=True)["metrics"]
    assert m["js"] == pytest.approx(js, abs=0.01)
    assert m["w1"] == pytest.approx(0.5 * d, abs=0.06)


def test_generator_off_the_grid_reads_ln2_not_zero():
    probe, _ = probe_with(Config(data="gaussian", z_dim=1), Affine([40.0], 0.5))
    assert probe.measure(force=True)["metrics"]["js"] == pytest.approx(math.log(2), abs=1e-6)


def test_perfect_and_collapsed_ring_generators():
    cfg = Config(data="ring8", z_dim=3)
    e = Engine(cfg)
    probe, _ = probe_with(cfg, RingSampler(e.target.centres))
    m = probe.measure(force=True)["metrics"]
    assert (m["modes_captured"], m["modes_total"]) == (8, 8)
    assert 0.982 < m["high_quality"] < 0.995
    assert m["js"] < 0.01
    probe, _ = probe_with(cfg, RingSampler(e.target.centres, collapse=True))
    out = probe.measure(force=True)
    assert out["metrics"]["modes_captured"] == 1
    assert out["mode_counts"].sum() == out["mode_counts"].max()
    # All mass on one of eight separated modes: with M = (p + q)/2 = 9/16 of a mode
    # there and 1/16 on the others, JS = (KL(p||M) + KL(q||M))/2 in closed form.
    kl_p = (1 / 8) * math.log((1 / 8) / (9 / 16)) + (7 / 8) * math.log(2)
    kl_q = math.log(16 / 9)
    assert out["metrics"]["js"] == pytest.approx((kl_p + kl_q) / 2, abs=0.01)


def test_fields_shapes_and_read_only():
    e = Engine(Config(data="spiral", hidden=16))
    snap = build_snapshot(e, Probe(e), 0, 0.0, e.drain(), "start")
    h, w = len(snap.ys), len(snap.xs)
    for name in ("p_data", "p_g", "d", "d_star"):
        assert getattr(snap, name).shape == (h, w)
        assert not getattr(snap, name).flags.writeable
    assert snap.fake.shape == snap.fake_grad.shape == (512, 2)
    assert snap.d.min() >= 0 and snap.d.max() <= 1
    assert snap.mode_counts is None and snap.metrics["modes_captured"] is None


def test_arrows_vanish_for_the_minimax_loss_on_a_confident_d():
    """The per-sample G gradient: minimax ~ a*D, non-saturating ~ a*(1 - D)."""
    e = Engine(Config(data="gaussian", z_dim=1, loss="minimax"))
    e.G = Affine([-1.0], 0.1)
    e.D = torch.nn.Linear(1, 1)
    with torch.no_grad():
        e.D.weight.fill_(10.0)
        e.D.bias.fill_(-5.0)  # D(x) = sigmoid(10 (x - 0.5)); fakes near -1: D ~ 3e-7
    probe = Probe(e)
    small = np.abs(probe.measure(force=True)["fake_grad"]).max()
    e.config = e.config.replace(loss="nonsaturating")
    large = np.abs(probe.measure(force=True)["fake_grad"]).min()
    assert small < 1e-4 and large > 9.9


def test_a_live_refresh_skips_kl_and_a_forced_measurement_has_it():
    probe = Probe(Engine(Config(data="gaussian", z_dim=1, hidden=16)))
    asked = []
    real = probe.yardstick.measure
    probe.yardstick.measure = lambda samples, kl=True, **kw: asked.append(kl) or real(samples, kl=kl, **kw)
    probe.measure()  # the first measurement is whole
    probe._spent = -1.0  # the budget allows a refresh now
    live = probe.measure()["metrics"]
    probe.measure(force=True)
    assert asked == [True, False, True] and live["kl"] is None


def test_the_drawn_grid_follows_a_requested_view_and_the_metrics_do_not():
    """D, p_g and D* are drawn over the window's rectangle; JS, KL, W1 never move."""
    cfg = Config(data="ring8", z_dim=3)
    e = Engine(cfg)
    probe, _ = probe_with(cfg, RingSampler(e.target.centres))
    before = probe.measure(force=True)
    assert before["xs"][0] == -3.0 and before["xs"][-1] == 3.0  # the target's extent
    view = ((-12.0, 12.0), (-6.0, 6.0))
    probe.set_view(view)
    after = probe.measure(force=True)
    xs, ys = after["xs"], after["ys"]
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (-12.0, 12.0, -6.0, 6.0)
    n = len(before["xs"])
    assert abs(len(xs) * len(ys) - n * n) < 0.03 * n * n  # as many cells: it costs the same
    assert (xs[1] - xs[0]) == pytest.approx(ys[1] - ys[0], rel=0.03)  # square cells
    for name in ("p_data", "p_g", "d", "d_star"):
        assert after[name].shape == (len(ys), len(xs))
    # The exact p_data on the new grid, and the drawn p_g holds the generator's mass.
    gx, gy = np.meshgrid(xs, ys)
    np.testing.assert_allclose(after["p_data"], e.target.density(
        np.stack([gx.ravel(), gy.ravel()], 1)).reshape(gx.shape), rtol=1e-9, atol=1e-12)
    cell = (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert after["p_g"].sum() * cell == pytest.approx(1.0, abs=0.02)
    # A perfect generator: D* 1/2 wherever drawn, and blank far from any mass.
    drawn = np.isfinite(after["d_star"])
    assert drawn.any() and np.abs(after["d_star"][drawn] - 0.5).max() < 0.05
    assert not drawn[np.abs(gx) > 11].any() and drawn.mean() < 0.9
    # D itself evaluated on the new grid points.
    with torch.no_grad():
        d00 = torch.sigmoid(e.D(torch.tensor([[xs[7], ys[5]]], dtype=torch.float32))).item()
    assert after["d"][5, 7] == pytest.approx(d00, abs=1e-6)
    for key in ("js", "kl", "w1", "value", "modes_captured", "high_quality"):
        assert after["metrics"][key] == before["metrics"][key], key
    probe.set_view(None)  # back to the measuring grid, bit for bit
    back = probe.measure(force=True)
    assert back["xs"] is before["xs"]
    np.testing.assert_array_equal(back["d_star"], before["d_star"])


def test_a_new_view_redraws_the_fields_without_measuring_the_metrics_again():
    """Between budgeted measurements a view change draws D, p_g and D* over it at once, as a
    full measurement would, while the metrics, mode counts and fields_step stay."""
    cfg = Config(data="ring8", z_dim=2, hidden=32)
    e = Engine(cfg)
    for _ in range(20):
        e.train_step()
    probe = Probe(e)
    first = probe.measure(force=True)
    for _ in range(5):
        e.train_step()
    measured = []
    real = probe.yardstick.measure
    probe.yardstick.measure = lambda *a, **kw: measured.append(1) or real(*a, **kw)
    probe._spent = 1e9  # the budget is spent: no measurement is due
    view = ((-5.0, 4.0), (-3.0, 6.0))
    probe.set_view(view)
    redrawn = probe.measure()
    assert not measured and redrawn["fields_step"] == first["fields_step"] == 20
    assert redrawn["metrics"] == first["metrics"]
    assert redrawn["mode_counts"] is first["mode_counts"]
    assert (redrawn["xs"][0], redrawn["xs"][-1], redrawn["ys"][0], redrawn["ys"][-1]) == (-5.0, 4.0, -3.0, 6.0)
    again = probe.measure()  # drawn once: the next snapshot reuses it
    assert again["d"] is redrawn["d"] and not measured
    # The same pictures as a full measurement at this step (step 25), bit for bit.
    whole = probe.measure(force=True)
    assert measured and whole["fields_step"] == 25
    for name in ("xs", "ys", "p_data", "p_g", "d", "d_star"):
        np.testing.assert_array_equal(redrawn[name], whole[name], err_msg=name)


def test_a_bad_view_falls_back_to_the_measuring_grid():
    probe = Probe(Engine(Config(data="gaussian", z_dim=1, hidden=16)))
    base = probe.measure(force=True)["xs"]
    for bad in (((1.0, 1.0),), ((0.0, float("nan")),), "wide", ((2.0, -2.0),)):
        probe.set_view(bad)
        assert probe.measure()["xs"] is base
    probe.set_view(((-10.0, 10.0),))
    xs = probe.measure()["xs"]  # a view change is drawn at the next snapshot, budget or not
    assert (xs[0], xs[-1], len(xs)) == (-10.0, 10.0, len(base))
