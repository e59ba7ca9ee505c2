"""The loss types, by name, written on D's logits (critic values for WGAN).

For the sigmoid losses D(x) = sigmoid(logit), and every log D or log(1 - D)
is a softplus of the logit: log D = -softplus(-l), log(1 - D) = -softplus(l).
That keeps a saturated D finite: the minimax generator gradient is then
-sigmoid(l), tiny but never NaN (Goodfellow et al. 2014, section 3).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import LOSS_NAMES


def is_wasserstein(loss: str) -> bool:
    """True for the critic losses, whose D output is not a probability."""
    return loss in ("wgan", "wgan-gp")


def d_loss(loss: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """What D (or the critic) minimises, without the gradient penalty.

    Parameters
    ----------
    loss : str
        One of LOSS_NAMES.
    real_logits, fake_logits : torch.Tensor
        (m, 1) D's logits (critic values) on real and generated samples.

    Returns
    -------
    torch.Tensor
        0-dim; nats for the sigmoid losses: -E[log D(x)] - E[log(1 - D(G(z)))].
    """
    if is_wasserstein(loss):
        # The critic maximises E[D(x)] - E[D(G(z))].
        return fake_logits.mean() - real_logits.mean()
    _check(loss)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss(loss: str, fake_logits: torch.Tensor) -> torch.Tensor:
    """What G minimises.

    ``minimax``: E[log(1 - D(G(z)))] (saturating); ``nonsaturating``:
    -E[log D(G(z))]; ``wgan``/``wgan-gp``: -E[D(G(z))].

    Parameters
    ----------
    loss : str
        One of LOSS_NAMES.
    fake_logits : torch.Tensor
        (m, 1) D's logits (critic values) on generated samples.

    Returns
    -------
    torch.Tensor
        0-dim, nats for the sigmoid losses.
    """
    if loss == "minimax":
        return -F.softplus(fake_logits).mean()
    if loss == "nonsaturating":
        return F.softplus(-fake_logits).mean()
    if is_wasserstein(loss):
        return -fake_logits.mean()
    _check(loss)


def gradient_penalty(
    critic: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """E[(||grad_x D(x_hat)|| - 1)^2] at x_hat = eps*real + (1-eps)*fake (Gulrajani et al. 2017).

    Parameters
    ----------
    critic : torch.nn.Module
        The critic D.
    real, fake : torch.Tensor
        (m, dim) samples; ``fake`` detached from G.
    eps : torch.Tensor
        (m, 1) uniform weights in [0, 1].

    Returns
    -------
    torch.Tensor
        0-dim penalty, differentiable with respect to the critic's parameters.
    """
    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def d_probability(loss: str, logits: torch.Tensor) -> torch.Tensor:
    """D's output as drawn: sigmoid for the probability losses, raw for a critic."""
    return logits if is_wasserstein(loss) else torch.sigmoid(logits)


def _check(loss: str) -> None:
    if loss not in LOSS_NAMES:
        raise ValueError(f"unknown loss {loss!r}; accepted: {', '.join(LOSS_NAMES)}")
