"""Every option's gradient by torch.autograd: the specification of the regularisers.

What D and G minimise, with every regulariser of the config, written plainly
on the ``nn.Module`` networks (or on D's spectrally normalised view). The
reference engine trains with these directions; the fast engine uses them for
the options it does not write out by hand (consensus, spectral_norm), and says
so (``Engine.note``). docs/dynamics-options.md has the formulas.

Conventions (both engines): D sees every sample through instance noise when
it is on, ``x + sigma_t n``, in D's and in G's step; WGAN-GP's interpolates and
the R1 / R2 penalties are taken at the samples D sees.
"""

from __future__ import annotations

import torch

from .. import losses


def zero_centred_penalty(D, x: torch.Tensor) -> torch.Tensor:
    """E|grad_x D(x)|^2 over the rows of ``x`` (Mescheder et al. 2018, R1 / R2 without gamma/2).

    Parameters
    ----------
    D : callable
        (n, dim) -> (n, 1) logits.
    x : torch.Tensor
        (n, dim) samples; when it depends on G's weights (consensus), so does the penalty.

    Returns
    -------
    torch.Tensor
        0-dim, differentiable with respect to D's weights (a double backward).
    """
    if not x.requires_grad:
        x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    return grad.square().sum(1).mean()


def d_objective(config, D, real, fake, eps, noise):
    """What D minimises at this point: its loss and every penalty of ``config``.

    Parameters
    ----------
    config : Config
    D : callable
        (n, dim) -> (n, 1) logits: the module, or its spectrally normalised view.
    real, fake : torch.Tensor
        (m, dim) each; ``fake`` detached from G, or not (consensus).
    eps : torch.Tensor or None
        (m, 1) WGAN-GP's interpolation weights.
    noise : torch.Tensor or None
        (2m, dim) instance noise already scaled by sigma_t (real rows first).

    Returns
    -------
    tuple
        (loss (0-dim), real logits (m, 1), fake logits (m, 1)).
    """
    loss_fn = losses.get(config.loss)
    m = real.shape[0]
    x = torch.cat([real, fake])
    if noise is not None:
        x = x + noise
    logits = D(x)
    real_l, fake_l = logits[:m], logits[m:]
    loss = loss_fn.d_value(real_l, fake_l)
    xr, xf = x[:m], x[m:]
    if loss_fn.gradient_penalty:
        loss = loss + config.gp_weight * losses.gradient_penalty(D, xr, xf, eps)
    if config.r1 > 0:
        loss = loss + config.r1 / 2 * zero_centred_penalty(D, xr)
    if config.r2 > 0:
        loss = loss + config.r2 / 2 * zero_centred_penalty(D, xf)
    return loss, real_l, fake_l


def g_objective(config, D, fake, noise):
    """What G minimises on ``fake`` (m, dim), seen through ``noise`` (m, dim) or None."""
    x = fake if noise is None else fake + noise
    return losses.get(config.loss).g_value(D(x))


def d_direction(engine, dd, D):
    """D's descent direction at the current weights, for one D draw.

    Returns
    -------
    tuple
        (grads: list like D's parameters, loss, real logits, fake logits).
    """
    real, z, eps, noise = dd
    with torch.no_grad():
        fake = engine.G(z)
    loss, real_l, fake_l = d_objective(engine.config, D, real, fake, eps, noise)
    grads = torch.autograd.grad(loss, engine.d_params)
    return list(grads), loss.detach(), real_l.detach(), fake_l.detach()


def g_direction(engine, gd, D):
    """G's descent direction at the current weights: (grads like G's parameters, loss)."""
    z, noise = gd
    loss = g_objective(engine.config, D, engine.G(z), noise)
    grads = torch.autograd.grad(loss, engine.g_params)
    return list(grads), loss.detach()


def consensus_directions(engine, dd, gd, D):
    """Both players' directions with consensus (Mescheder, Nowozin and Geiger 2017).

    v = (grad_phi L_D, grad_theta L_G) is the players' joint gradient (penalties
    included) on the draws ``dd`` and ``gd``; each player descends its own loss
    and gamma (1/2)|v|^2: direction = v + gamma grad (1/2)|v|^2 = v + gamma J^T v.

    Returns
    -------
    tuple
        (D grads, G grads, loss_d, real logits, fake logits, loss_g), detached.
    """
    c = engine.config
    real, z, eps, noise_d = dd
    z_g, noise_g = gd
    loss_d, real_l, fake_l = d_objective(c, D, real, engine.G(z), eps, noise_d)
    loss_g = g_objective(c, D, engine.G(z_g), noise_g)
    nd = len(engine.d_params)
    v = list(torch.autograd.grad(loss_d, engine.d_params, create_graph=True)) + list(
        torch.autograd.grad(loss_g, engine.g_params, create_graph=True))
    half_norm = 0.5 * sum(g.square().sum() for g in v)
    jtv = torch.autograd.grad(half_norm, engine.d_params + engine.g_params, allow_unused=True)
    out = [(g + c.consensus * (torch.zeros_like(g) if j is None else j)).detach()
           for g, j in zip(v, jtv)]
    return (out[:nd], out[nd:], loss_d.detach(), real_l.detach(), fake_l.detach(),
            loss_g.detach())
