"""Each loss against its formula on hand-computed inputs (nats)."""

import math

import pytest
import torch

from ganviz.core import losses

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
