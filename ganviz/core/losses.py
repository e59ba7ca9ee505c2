"""The loss registry: every loss a run can train with, one entry each.

An entry (:class:`Loss`) declares what the rest of ganviz needs to know about
a loss, so that no other module picks a loss by its name:

- its name and a one-line formula (the loss menu's tooltip and the Help);
- what the views draw for D: its ``probability`` D(x) = sigmoid(logit), or
  its ``raw`` output; the y-range to draw it in (None: follow the values);
  whether it is a Wasserstein ``critic`` (no probability, no D*);
- the per-sample terms of D's and G's losses as functions of D's raw outputs
  (logits) on real and generated samples: D minimises
  E[d_real(l(x))] + E[d_fake(l(G(z)))], G minimises E[g_fake(l(G(z)))];
- the closed-form derivative of each term with respect to its logit, which
  the fast engine uses instead of autograd (tests/test_losses.py checks each
  against torch.autograd in float64, tests/test_trainer_fast.py checks the
  whole run against the autograd reference engine);
- the optimal D for given densities (numpy), where a closed form exists;
- the Lipschitz device the critic needs: weight clipping or a gradient penalty.

Adding a loss is one entry in :data:`LOSSES` and one equivalence test.

This module imports no torch at module level: the window reads names,
formulas and drawing flags from it without loading torch. The term functions
use tensor methods (``x.sigmoid()``) and import torch only when called.

For the sigmoid losses every log D or log(1 - D) is a softplus of the logit:
log D = -softplus(-l), log(1 - D) = -softplus(l). That keeps a saturated D
finite: the minimax generator gradient is then -sigmoid(l), tiny but never
NaN (Goodfellow et al. 2014, section 3). In float32 torch's sigmoid(l) is 0
below a logit of about -88 (it flushes subnormals; exp(logsigmoid(l)) would
reach -103, and nothing representable reaches -200), so there the minimax G
gradient of a sample D surely rejects is exactly 0, never NaN; in float64 it
stays positive down to about -745 (tests/test_losses.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

#: What the views draw for D.
PROBABILITY, RAW = "probability", "raw"


def _softplus(x):
    """log(1 + e^x), stable for any x (torch's kernel, imported when first needed)."""
    from torch.nn.functional import softplus

    return softplus(x)


def _step(mask, like):
    """A boolean mask as 0/1 values of ``like``'s dtype."""
    return mask.to(like.dtype)


# --- optimal discriminators (numpy) --------------------------------------------


def d_star_ratio(p_data, p_g) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g): the optimum of the cross-entropy and least-squares D.

    Parameters
    ----------
    p_data, p_g : array_like
        Same shape, densities (1/unit^dim) at the same points.

    Returns
    -------
    ndarray
        Same shape, float64 in [0, 1]; 1/2 where both densities are 0.
    """
    p_data = np.asarray(p_data, dtype=np.float64)
    p_g = np.asarray(p_g, dtype=np.float64)
    s = p_data + p_g
    out = np.full(np.broadcast_shapes(p_data.shape, p_g.shape), 0.5)
    np.divide(p_data, s, out=out, where=s > 0)
    return out


def d_star_sign(p_data, p_g) -> np.ndarray:
    """The hinge loss's optimal D: sign(p_data - p_g) in [-1, 1], 0 where they are equal.

    Pointwise, p_data relu(1 - D) + p_g relu(1 + D) is smallest at D = 1 where
    p_data > p_g and at D = -1 where p_data < p_g (Lim and Ye 2017).

    Parameters
    ----------
    p_data, p_g : array_like
        Same shape, densities at the same points.

    Returns
    -------
    ndarray
        Same shape, float64: -1, 0 or 1.
    """
    diff = np.asarray(p_data, dtype=np.float64) - np.asarray(p_g, dtype=np.float64)
    return np.clip(np.sign(diff), -1.0, 1.0)


# --- the registry ----------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """One loss: its value, its closed-form gradients, what to draw, its optimal D.

    Every term function takes D's raw outputs ``l`` (any shape, a torch
    tensor) and returns the per-sample term (same shape); each ``*_grad`` is
    the derivative of its term with respect to ``l``, elementwise.
    """

    name: str
    formula: str  # one line, plain text: D's and G's objectives
    about: str  # one sentence: what it is for
    critic: bool  # a Wasserstein critic: D's output is a score, with no D*
    draws: str  # PROBABILITY: sigmoid(l); RAW: l
    d_range: tuple[float, float] | None  # the views' y-range for D; None: follow the values
    d_real: Callable
    d_fake: Callable
    g_fake: Callable
    d_real_grad: Callable
    d_fake_grad: Callable
    g_fake_grad: Callable
    d_star: Callable | None  # (p_data, p_g) -> D* (numpy, same shape); None: no closed form
    clip_weights: bool = False  # clip D's weights to [-clip, clip] after each D step
    gradient_penalty: bool = False  # add gp_weight * E[(|grad D(x_hat)| - 1)^2] to D's loss

    def drawn(self, logits):
        """D as the views draw it: the probability sigmoid(l), or the raw output."""
        return logits.sigmoid() if self.draws == PROBABILITY else logits

    def d_value(self, real_logits, fake_logits):
        """What D minimises (without a gradient penalty): a 0-dim tensor, nats for the sigmoid losses."""
        return self.d_real(real_logits).mean() + self.d_fake(fake_logits).mean()

    def g_value(self, fake_logits):
        """What G minimises: a 0-dim tensor, nats for the sigmoid losses."""
        return self.g_fake(fake_logits).mean()


def _lsgan_grad_real(l):
    s = l.sigmoid()
    return 2 * (s - 1) * (s * (1 - s))  # d/dl (s - 1)^2, ds/dl = s (1 - s)


def _lsgan_grad_fake(l):
    s = l.sigmoid()
    return 2 * s * (s * (1 - s))


_CROSS_ENTROPY = dict(
    critic=False, draws=PROBABILITY, d_range=(0.0, 1.0),
    d_real=lambda l: _softplus(-l),  # -log D(x)
    d_fake=lambda l: _softplus(l),  # -log(1 - D(G(z)))
    d_real_grad=lambda l: -(-l).sigmoid(),
    d_fake_grad=lambda l: l.sigmoid(),
    d_star=d_star_ratio,
)
_WASSERSTEIN = dict(
    critic=True, draws=RAW, d_range=None,
    d_real=lambda l: -l, d_fake=lambda l: l, g_fake=lambda l: -l,
    d_real_grad=lambda l: -l.new_ones(()).expand_as(l),
    d_fake_grad=lambda l: l.new_ones(()).expand_as(l),
    g_fake_grad=lambda l: -l.new_ones(()).expand_as(l),
    d_star=None,
)

#: Every loss, by name, in the order the loss menu lists them.
LOSSES: dict[str, Loss] = {
    entry.name: entry
    for entry in (
        Loss(
            name="minimax",
            formula="D: max E[log D(x)] + E[log(1 - D(G(z)))];  G: min E[log(1 - D(G(z)))]",
            about="the original game; G's gradient vanishes when D is sure a sample is fake",
            g_fake=lambda l: -_softplus(l),  # log(1 - D(G(z)))
            g_fake_grad=lambda l: -l.sigmoid(),
            **_CROSS_ENTROPY,
        ),
        Loss(
            name="nonsaturating",
            formula="D: max E[log D(x)] + E[log(1 - D(G(z)))];  G: max E[log D(G(z))]",
            about="the same fixed point as minimax, but a strong gradient exactly when D "
                  "rejects G's samples",
            g_fake=lambda l: _softplus(-l),  # -log D(G(z))
            g_fake_grad=lambda l: -(-l).sigmoid(),
            **_CROSS_ENTROPY,
        ),
        Loss(
            name="wgan",
            formula="critic: max E[D(x)] - E[D(G(z))], weights clipped to [-clip, clip];  "
                    "G: max E[D(G(z))]",
            about="a critic without a sigmoid estimates the W1 (earth mover's) distance; "
                  "clipping its weights keeps it Lipschitz",
            clip_weights=True,
            **_WASSERSTEIN,
        ),
        Loss(
            name="wgan-gp",
            formula="critic: max E[D(x)] - E[D(G(z))] - lambda E[(|grad D(x^)| - 1)^2];  "
                    "G: max E[D(G(z))]",
            about="the WGAN critic kept 1-Lipschitz by a gradient penalty (weight lambda) "
                  "instead of clipping",
            gradient_penalty=True,
            **_WASSERSTEIN,
        ),
        Loss(
            name="lsgan",
            formula="D: min E[(D(x) - 1)^2] + E[D(G(z))^2];  G: min E[(D(G(z)) - 1)^2];  "
                    "D = sigmoid(logit), no 1/2 factors",
            about="least squares on D's probability (labels 1 real, 0 fake); D* is "
                  "p_data / (p_data + p_g) as for the cross-entropy",
            critic=False, draws=PROBABILITY, d_range=(0.0, 1.0),
            d_real=lambda l: (l.sigmoid() - 1) ** 2,
            d_fake=lambda l: l.sigmoid() ** 2,
            g_fake=lambda l: (l.sigmoid() - 1) ** 2,
            d_real_grad=_lsgan_grad_real,
            d_fake_grad=_lsgan_grad_fake,
            g_fake_grad=_lsgan_grad_real,
            d_star=d_star_ratio,
        ),
        Loss(
            name="hinge",
            formula="D: min E[relu(1 - D(x))] + E[relu(1 + D(G(z)))];  G: min -E[D(G(z))];  "
                    "D the raw output",
            about="a margin on D's raw output; D* is sign(p_data - p_g), so D is drawn "
                  "raw in [-1.5, 1.5]",
            critic=False, draws=RAW, d_range=(-1.5, 1.5),
            d_real=lambda l: (1 - l).relu(),
            d_fake=lambda l: (1 + l).relu(),
            g_fake=lambda l: -l,
            # relu's derivative where its input is > 0, 0 at the kink (as autograd)
            d_real_grad=lambda l: -_step(l < 1, l),
            d_fake_grad=lambda l: _step(l > -1, l),
            g_fake_grad=lambda l: -l.new_ones(()).expand_as(l),
            d_star=d_star_sign,
        ),
    )
}

#: The loss names, in menu order (``config.LOSS_NAMES`` is this tuple).
LOSS_NAMES = tuple(LOSSES)


def get(name: str) -> Loss:
    """The registry entry ``name``; ValueError naming the accepted losses otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; accepted: {', '.join(LOSS_NAMES)}") from None


def d_loss(loss: str, real_logits, fake_logits):
    """What D (or the critic) minimises, without the gradient penalty.

    Parameters
    ----------
    loss : str
        One of LOSS_NAMES.
    real_logits, fake_logits : torch.Tensor
        (m, 1) D's raw outputs on real and generated samples.

    Returns
    -------
    torch.Tensor
        0-dim; nats for the cross-entropy losses: -E[log D(x)] - E[log(1 - D(G(z)))].
    """
    return get(loss).d_value(real_logits, fake_logits)


def g_loss(loss: str, fake_logits):
    """What G minimises (nats for the cross-entropy losses).

    Parameters
    ----------
    loss : str
        One of LOSS_NAMES.
    fake_logits : torch.Tensor
        (m, 1) D's raw outputs on generated samples.

    Returns
    -------
    torch.Tensor
        0-dim.
    """
    return get(loss).g_value(fake_logits)


def d_output(loss: str, logits):
    """D as the views draw it: sigmoid(logits) for a probability, the raw output otherwise."""
    return get(loss).drawn(logits)


def gradient_penalty(critic, real, fake, eps):
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
    import torch

    x_hat = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()
