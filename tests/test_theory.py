"""ganviz.core.theory against tabulated closed forms and independent quadrature (scipy)."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, special

from ganviz.core import theory as T

LN2 = math.log(2.0)


# JS(N(0,1) || N(d,1)) in nats, and the generator's gradient |d/db| at the optimal D for
# G(z) = z + b, p_data = N(0,1) (minimax + non-saturating = b exactly), to 6 digits.
JS_TABLE = {0: 0.0, 1: 0.111421, 2: 0.336831, 3: 0.526777, 4: 0.632720,
            5: 0.675943, 6: 0.689298, 8: 0.693054, 10: 0.693146}
# b: (minimax, its tolerance, non-saturating, its tolerance); the tolerance
# is half a unit in the last digit quoted.
GRAD_TABLE = {
    2: (0.44960, 5e-6, 1.55040, 5e-6),
    4: (0.13719, 5e-6, 3.86281, 5e-6),
    6: (0.012453, 5e-7, 5.98755, 5e-6),
    10: (4.464e-6, 5e-10, 9.999996, 5e-7),
}


def phi(z):
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def quad_expect(f, centre=0.0):
    """E_z f(z), z ~ N(0,1), by adaptive quadrature split at a feature point."""
    val = 0.0
    for a, b in [(-40.0, centre), (centre, 40.0)]:
        val += integrate.quad(lambda z: phi(z) * f(z), a, b, epsabs=0, epsrel=1e-12, limit=400)[0]
    return val


def js_direct(b):
    """JS from its definition, by quadrature of the two densities."""
    def integrand(x):
        # p log(2p / (p + q)) = p (log 2 - log(1 + q/p)), log(q/p) = b x - b^2/2.
        r = b * x - b * b / 2
        return 0.5 * phi(x) * (LN2 - np.logaddexp(0, r)) + 0.5 * phi(x - b) * (LN2 - np.logaddexp(0, -r))
    return sum(integrate.quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-12, limit=400)[0]
               for lo, hi in [(-15, b / 2), (b / 2, b + 15)])


@pytest.mark.parametrize("d", sorted(JS_TABLE))
def test_js_table(d):
    # Quoted to 6 decimals: half a unit is 5e-7.
    assert T.gaussian_shift(d)["js"] == pytest.approx(JS_TABLE[d], abs=5e-7)


@pytest.mark.parametrize("b", sorted(GRAD_TABLE))
def test_gradient_table(b):
    g = T.gaussian_shift(b)
    mm, mm_tol, ns, ns_tol = GRAD_TABLE[b]
    assert g["grad_minimax"] == pytest.approx(mm, abs=mm_tol)
    assert g["grad_nonsaturating"] == pytest.approx(ns, abs=ns_tol)
    assert g["grad_wgan"] == 1.0


@pytest.mark.parametrize("b", [0.3, 1.0, 2.0, 4.0, 6.0, 10.0, 14.0])
def test_against_independent_quadrature(b):
    g = T.gaussian_shift(b)
    # minimax: b E_z[D*(z + b)], D* = sigmoid(b^2/2 - b x); expit is accurate
    # for tiny values, so this route keeps relative precision too.
    mm = b * quad_expect(lambda z: special.expit(b * b / 2 - b * (z + b)), centre=-b / 2)
    ns = b * quad_expect(lambda z: special.expit(-(b * b / 2 - b * (z + b))), centre=-b / 2)
    # Measured agreement ~5e-16; quad itself is good to ~1e-13.
    assert g["grad_minimax"] == pytest.approx(mm, rel=1e-11)
    assert g["grad_nonsaturating"] == pytest.approx(ns, rel=1e-11)
    assert g["grad_minimax"] + g["grad_nonsaturating"] == pytest.approx(b, rel=1e-12)
    if b <= 6:
        assert g["js"] == pytest.approx(js_direct(b), abs=1e-12)


def test_minimax_is_twice_djs_db():
    bs = np.linspace(0.25, 9.0, 36)
    h = 1e-4
    c = T.gaussian_shift_curves(bs)
    djs = (T.gaussian_shift_curves(bs + h)["js"] - T.gaussian_shift_curves(bs - h)["js"]) / (2 * h)
    # Central differences of a quantity computed to ~1e-15: error ~1e-11 / h^2 terms.
    np.testing.assert_allclose(c["grad_minimax"], 2 * djs, rtol=1e-5, atol=1e-9)


def test_gradients_match_autograd_through_the_loss():
    # d/db of E_z log(1 - D*(z + b)) with D* frozen at the current b, by
    # autograd over a fine trapezoid in z: an independent route to the sign too.
    b0 = 2.0
    z = torch.linspace(-12, 12, 24001, dtype=torch.float64)
    w = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * (z[1] - z[0])
    b = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    logit = b0 * b0 / 2 - b0 * (z + b)  # D* held fixed: b0, not b
    minimax_loss = (w * torch.nn.functional.logsigmoid(-logit)).sum()  # log(1 - D)
    (g_mm,) = torch.autograd.grad(minimax_loss, b)
    b2 = torch.tensor(b0, dtype=torch.float64, requires_grad=True)
    ns_loss = -(w * torch.nn.functional.logsigmoid(b0 * b0 / 2 - b0 * (z + b2))).sum()
    (g_ns,) = torch.autograd.grad(ns_loss, b2)
    ref = T.gaussian_shift(b0)
    # Both positive: gradient descent on either loss moves b back towards 0.
    assert float(g_mm) > 0 and float(g_ns) > 0
    assert abs(float(g_mm)) == pytest.approx(ref["grad_minimax"], rel=1e-9)
    assert abs(float(g_ns)) == pytest.approx(ref["grad_nonsaturating"], rel=1e-9)


def test_small_and_zero_shift():
    g0 = T.gaussian_shift(0.0)
    assert g0["js"] == pytest.approx(0.0, abs=1e-15)
    assert g0["grad_minimax"] == 0.0 and g0["grad_nonsaturating"] == 0.0
    # JS ~ d^2 / 8 for small d; both losses give b/2 (D* = 1/2).
    g = T.gaussian_shift(0.01)
    assert g["js"] == pytest.approx(0.01**2 / 8, rel=1e-3)
    assert g["grad_minimax"] == pytest.approx(0.005, rel=1e-3)
    assert g["grad_nonsaturating"] == pytest.approx(0.005, rel=1e-3)


def test_symmetric_in_sign_and_stable_far_out():
    for b in (0.7, 3.0, 10.0):
        pos, neg = T.gaussian_shift(b), T.gaussian_shift(-b)
        for k in pos:
            assert neg[k] == pytest.approx(pos[k], rel=1e-12)
    far = T.gaussian_shift_curves(np.array([20.0, 40.0, 100.0, 1e4]))
    assert np.all(np.isfinite(far["grad_minimax"])) and np.all(far["grad_minimax"] >= 0)
    # b = 20: 20 exp(-50) I(20), I ~ phi(0) pi / b: about 1.2e-21, not 0 or nan.
    assert 1e-22 < far["grad_minimax"][0] < 1e-20
    np.testing.assert_allclose(far["js"], LN2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(far["grad_nonsaturating"], [20.0, 40.0, 100.0, 1e4], rtol=1e-12)


def test_curves_shape_monotone_and_consistent():
    bs = np.linspace(0.0, 10.0, 200)
    c = T.gaussian_shift_curves(bs)
    assert set(c) >= {"js", "grad_minimax", "grad_nonsaturating", "grad_wgan"}
    assert all(c[k].shape == (200,) for k in ("js", "grad_minimax", "grad_nonsaturating", "grad_wgan"))
    assert np.all(np.diff(c["js"]) > 0) and c["js"].max() <= LN2
    # The minimax gradient rises, peaks (near b = 2) and vanishes.
    peak = bs[np.argmax(c["grad_minimax"])]
    assert 1.5 < peak < 2.5 and c["grad_minimax"][-1] < 1e-5
    for i in (0, 57, 199):
        s = T.gaussian_shift(bs[i])
        assert s["js"] == pytest.approx(c["js"][i], rel=1e-9, abs=1e-15)
        assert s["grad_minimax"] == pytest.approx(c["grad_minimax"][i], rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    "a, sat, nonsat",
    [(1.0, 0.1824, 0.8176), (5.0, 2.764e-3, 4.997), (10.0, 3.059e-6, 10.000)],
)
def test_near_perfect_discriminator(a, sat, nonsat):
    g = T.saturating_vs_nonsaturating_sample_grad(a, x=2.0)
    assert g["saturating"] == pytest.approx(sat, rel=2e-4)
    assert g["nonsaturating"] == pytest.approx(nonsat, abs=6e-4)
    # Independently: autograd of each loss through D(x) = sigmoid(a (0.5 - x)).
    x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    logit = a * (0.5 - x)
    (gs,) = torch.autograd.grad(torch.nn.functional.logsigmoid(-logit), x)  # log(1 - D)
    x2 = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    (gn,) = torch.autograd.grad(-torch.nn.functional.logsigmoid(a * (0.5 - x2)), x2)  # -log D
    assert g["saturating"] == pytest.approx(abs(float(gs)), rel=1e-12)
    assert g["nonsaturating"] == pytest.approx(abs(float(gn)), rel=1e-12)


def test_near_perfect_discriminator_vectorised():
    g = T.saturating_vs_nonsaturating_sample_grad(np.array([1.0, 5.0, 10.0, 50.0]))
    assert g["saturating"].shape == (4,)
    assert np.all(np.diff(g["saturating"]) < 0)  # sharper D, less gradient
    assert g["saturating"][-1] > 0  # 50 exp(-75): tiny, not rounded to 0
    np.testing.assert_allclose(g["d"] + g["nonsaturating"] / np.array([1, 5, 10, 50.0]), 1.0, rtol=1e-12)
