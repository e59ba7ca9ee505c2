"""Each loss against its formula on hand-computed inputs (nats), its closed-form
gradients against autograd, its optimal D, and the registry's promises."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from ganviz.core import losses
from ganviz.core.config import LOSS_NAMES, Config
from ganviz.core.trainer import Engine, ReferenceEngine

REAL = torch.tensor([[0.0], [2.0]])
FAKE = torch.tensor([[-1.0], [1.0]])


def sp(x):
    return math.log1p(math.exp(x))


def test_d_loss_sigmoid_is_binary_cross_entropy():
    # -mean log D(x) - mean log(1 - D(G(z))), D = sigmoid(logit)
    expected = (sp(-0.0) + sp(-2.0)) / 2 + (sp(-1.0) + sp(1.0)) / 2
    for name in ("minimax", "nonsaturating"):
        assert losses.d_loss(name, REAL, FAKE).item() == pytest.approx(expected, rel=1e-6)


def test_g_losses_by_hand():
    d = [1 / (1 + math.exp(1.0)), 1 / (1 + math.exp(-1.0))]  # D(G(z))
    minimax = sum(math.log(1 - v) for v in d) / 2
    nonsat = -sum(math.log(v) for v in d) / 2
    assert losses.g_loss("minimax", FAKE).item() == pytest.approx(minimax, rel=1e-6)
    assert losses.g_loss("nonsaturating", FAKE).item() == pytest.approx(nonsat, rel=1e-6)
    assert losses.g_loss("wgan", FAKE).item() == 0.0
    assert losses.g_loss("wgan-gp", torch.tensor([[3.0], [1.0]])).item() == -2.0


def test_critic_loss_is_minus_the_wasserstein_estimate():
    # E[D(x)] - E[D(G(z))] = 1 - 0 = 1; the critic minimises its negative.
    for name in ("wgan", "wgan-gp"):
        assert losses.d_loss(name, REAL, FAKE).item() == -1.0


def test_value_at_d_half_is_minus_log_4():
    zeros = torch.zeros(5, 1)
    assert -losses.d_loss("minimax", zeros, zeros).item() == pytest.approx(-math.log(4))


@pytest.mark.parametrize("a, sat, nonsat", [(1, 0.1824, 0.8176), (5, 2.764e-3, 4.997), (10, 3.059e-6, 10.000)])
def test_near_perfect_discriminator_gradients(a, sat, nonsat):
    """Arjovsky and Bottou 2017: D(x) = sigmoid(a(0.5 - x)), a fake sample at x = 2."""
    for name, expected in (("minimax", sat), ("nonsaturating", nonsat)):
        x = torch.tensor([[2.0]], dtype=torch.float64, requires_grad=True)
        (grad,) = torch.autograd.grad(losses.g_loss(name, a * (0.5 - x)), x)
        assert abs(grad.item()) == pytest.approx(expected, rel=1e-3)


def test_saturated_discriminator_gives_tiny_finite_gradient():
    logits = torch.full((4, 1), -80.0, requires_grad=True)
    (grad,) = torch.autograd.grad(losses.g_loss("minimax", logits), logits)
    assert torch.isfinite(grad).all()
    assert 0 < grad.abs().max().item() < 1e-30
    (grad,) = torch.autograd.grad(losses.d_loss("minimax", -logits, logits), logits)
    assert torch.isfinite(grad).all()


def test_gradient_penalty_of_a_linear_critic():
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]]))  # |grad| = 5 everywhere
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    gp = losses.gradient_penalty(critic, real, fake, torch.rand(8, 1))
    assert gp.item() == pytest.approx(16.0)
    (g,) = torch.autograd.grad(gp, critic.weight)
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w|
    assert torch.allclose(g, torch.tensor([[2 * 4 * 3 / 5, 2 * 4 * 4 / 5]]))


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="nonsaturating"):
        losses.d_loss("hinge3", REAL, FAKE)


def test_lsgan_and_hinge_by_hand():
    d_real = [1 / (1 + math.exp(-v)) for v in (0.0, 2.0)]  # D = sigmoid(logit)
    d_fake = [1 / (1 + math.exp(-v)) for v in (-1.0, 1.0)]
    lsgan_d = sum((v - 1) ** 2 for v in d_real) / 2 + sum(v**2 for v in d_fake) / 2
    lsgan_g = sum((v - 1) ** 2 for v in d_fake) / 2
    assert losses.d_loss("lsgan", REAL, FAKE).item() == pytest.approx(lsgan_d, rel=1e-6)
    assert losses.g_loss("lsgan", FAKE).item() == pytest.approx(lsgan_g, rel=1e-6)
    # relu(1 - [0, 2]) = [1, 0]; relu(1 + [-1, 1]) = [0, 2]
    assert losses.d_loss("hinge", REAL, FAKE).item() == pytest.approx(0.5 + 1.0)
    assert losses.g_loss("hinge", torch.tensor([[3.0], [1.0]])).item() == -2.0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_closed_form_logit_gradients_equal_autograd(name):
    """What the fast engine uses instead of autograd, in float64 on random logits.

    Beyond |l| = 20 torch's softplus returns its input (threshold 20), so its
    autograd slope is 1 where the exact one, sigmoid(l), is 1 - 2e-9 at most:
    there the two agree to 1e-8.
    """
    loss = losses.get(name)
    gen = torch.Generator().manual_seed(1)
    spread = torch.randn(4000, 1, generator=gen, dtype=torch.float64) * 6
    inner = torch.cat([spread.clamp(-20, 20), torch.tensor([[-1.0], [1.0], [0.0]], dtype=torch.float64)])
    outer = spread.sign() * (20 + spread.abs() * 3)
    for logits, rtol in ((inner, 1e-12), (outer, 1e-8)):
        for term, grad in ((loss.d_real, loss.d_real_grad), (loss.d_fake, loss.d_fake_grad),
                           (loss.g_fake, loss.g_fake_grad)):
            x = logits.clone().requires_grad_(True)
            (expected,) = torch.autograd.grad(term(x).sum(), x)
            got = grad(logits)
            assert got.shape == logits.shape
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=rtol, atol=1e-300)


def test_optimal_discriminators():
    p = np.array([0.0, 1.0, 2.0, 3.0, 0.0])
    q = np.array([0.0, 3.0, 2.0, 1.0, 5.0])
    np.testing.assert_allclose(losses.get("lsgan").d_star(p, q), [0.5, 0.25, 0.5, 0.75, 0.0])
    assert losses.get("lsgan").d_star is losses.get("minimax").d_star
    np.testing.assert_array_equal(losses.get("hinge").d_star(p, q), [0.0, -1.0, 0.0, 1.0, -1.0])
    assert losses.get("wgan").d_star is None and losses.get("wgan-gp").d_star is None


@pytest.mark.parametrize("name", ["lsgan", "hinge"])
def test_optimal_d_minimises_the_pointwise_d_loss(name):
    """Pointwise p d_real(D) + q d_fake(D) is smallest at D*, against a dense scan of D."""
    loss = losses.get(name)
    p, q = np.array([0.2, 1.0, 3.0]), np.array([1.0, 0.25, 0.5])
    if loss.draws == losses.PROBABILITY:
        outs = np.linspace(0.001, 0.999, 999)
        logits = torch.tensor(np.log(outs / (1 - outs)))
    else:
        outs = np.linspace(-3, 3, 601)
        logits = torch.tensor(outs)
    for pi, qi, star in zip(p, q, loss.d_star(p, q)):
        risk = pi * loss.d_real(logits).numpy() + qi * loss.d_fake(logits).numpy()
        best = outs[np.argmin(risk)]
        assert best == pytest.approx(star, abs=2e-3)


def test_drawing_flags():
    assert [n for n in LOSS_NAMES if losses.get(n).critic] == ["wgan", "wgan-gp"]
    assert losses.get("lsgan").draws == losses.PROBABILITY
    assert losses.get("hinge").draws == losses.RAW and losses.get("hinge").d_range == (-1.5, 1.5)
    assert losses.get("wgan").d_range is None
    l = torch.tensor([-2.0, 0.0, 2.0])
    assert torch.equal(losses.d_output("hinge", l), l)
    assert torch.allclose(losses.d_output("lsgan", l), torch.sigmoid(l))


def test_registry_names_formulas_and_flags_without_torch():
    code = ("import sys; from ganviz.core import losses, config; "
            "assert config.LOSS_NAMES == tuple(losses.LOSSES); "
            "print(len([e.formula for e in losses.LOSSES.values()])); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(len(LOSS_NAMES))


def _rejecting_d(engine, bias):
    """Make D reject everything: its head's bias at ``bias``, its weights small."""
    with torch.no_grad():
        engine.D.head.bias.fill_(bias)
        engine.D.head.weight.mul_(0.01)


@pytest.mark.parametrize("engine_class", [Engine, ReferenceEngine])
def test_minimax_generator_gradient_at_a_logit_of_minus_200(engine_class):
    """Finite and non-zero in float64; in float32 sigmoid(-200) is 0: finite, never NaN."""
    old = torch.get_default_dtype()
    try:
        for dtype, nonzero in ((torch.float64, True), (torch.float32, False)):
            torch.set_default_dtype(dtype)
            e = engine_class(Config(data="gaussian", loss="minimax", hidden=16, batch_size=32))
            _rejecting_d(e, -200.0)
            e.freeze(d=True)
            e.train_step()
            stats = e.drain()
            assert stats["d_fake"][0] < 1e-80
            grad_g = stats["grad_norm_g"][0]
            assert np.isfinite(grad_g) and np.isfinite(stats["loss_g"][0])
            assert (grad_g > 0) == nonzero
            assert all(np.isfinite(v).all() for v in e.state()["G"].values())
    finally:
        torch.set_default_dtype(old)
