"""The update rules on the MLP GAN: how D's and G's optimizer steps interleave.

One iteration of each rule (docs/dynamics-options.md has them with formulas;
the toy games of ganviz/core/dynamics.py follow the same definitions). "An
optimizer step" is the configured optimizer (SGD with momentum, Adam, RMSprop)
applied to a player's gradient, its running state advancing; every gradient
evaluation draws its own minibatch.

- ``alternating`` (Goodfellow et al. 2014, Algorithm 1): k D steps, each on a
  fresh draw, then one G step at the updated D.
- ``simultaneous``: both gradients at the same point (phi_t, theta_t), then both
  optimizer steps. k must be 1.
- ``extragradient`` (Korpelevich 1976; Gidel et al. 2019, Extra-Adam): both
  players take an optimizer step to the extrapolated point x_half; the
  gradients there, on a new draw, are applied from the saved x_t. Each player's
  optimizer state advances twice per iteration, as in Gidel et al.'s code.
- ``optimistic`` (Daskalakis et al. 2018, Optimistic Adam; "optimistic mirror
  descent"): with Delta_t the step the optimizer would take from x_t, the
  player moves by 2 Delta_t - Delta_{t-1} (Delta_{-1} = Delta_0, so the first
  iteration is a plain simultaneous step). For plain SGD this is Gidel 2019's
  x_{t+1} = x_t - 2 eta g_t + eta g_{t-1}; for Adam it is Optimistic Adam.

With ``consensus``, every evaluation is of the whole field v = (grad_phi L_D,
grad_theta L_G) on a D draw and a G draw (drawn in that order), and a player's
gradient is its part of v + gamma J^T v. WGAN's weight clipping follows every
D update (both of extragradient's). With ``spectral_norm``, one power
iteration precedes each evaluation of D's gradient that updates D. The EMA of
G's weights follows each iteration's final G update.

A frozen player is evaluated but never moved. ``d_updates`` counts one D
update per iteration for the joint rules (k for alternating).
"""

from __future__ import annotations

import torch


def evaluate(e, dd, gd, stats: bool, for_d: bool, for_g: bool):
    """Gradients at the current point into the players' gradient stores.

    Returns (loss_g, grad_norm_g) when G's gradient was formed, else None.
    """
    if for_d and e.sn is not None and "d" not in e.frozen:
        e.sn.power_step()
    if e.config.consensus > 0:
        return e._joint_grad(dd, gd, stats)
    if for_d:
        e._d_grad(dd, stats)
    if for_g:
        return e._g_grad(gd)
    return None


def d_step(e) -> None:
    """One D step of Algorithm 1 (also a single step asked for while paused)."""
    dd = e._draw_d()
    gd = e._draw_g() if e.config.consensus > 0 else None
    evaluate(e, dd, gd, stats=True, for_d=True, for_g=False)
    e._d_apply()


def g_step(e):
    """One G step of Algorithm 1; returns (loss_g, grad_norm_g) on the device."""
    dd = e._draw_d() if e.config.consensus > 0 else None
    out = evaluate(e, dd, e._draw_g(), stats=False, for_d=False, for_g=True)
    e._g_apply()
    return out


def iterate(e) -> None:
    """One iteration of ``e.config.update``; appends its per-step scalars to ``e._stats``."""
    rule = e.config.update
    if rule == "alternating":
        k = e._d_steps()
        for _ in range(k):
            d_step(e)
        loss_g, gn_g = g_step(e)
        dk = k
    else:
        dd, gd = e._draw_d(), e._draw_g()
        if rule == "extragradient":
            saved = e._save()
            loss_g, gn_g = evaluate(e, dd, gd, stats=True, for_d=True, for_g=True)
            e._d_apply()
            e._g_apply()
            evaluate(e, e._draw_d(), e._draw_g(), stats=False, for_d=True, for_g=True)
            e._restore(saved)
        else:
            loss_g, gn_g = evaluate(e, dd, gd, stats=True, for_d=True, for_g=True)
        if rule == "optimistic":
            _optimistic(e)
        else:
            e._d_apply()
            e._g_apply()
        dk = 1
    e._ema_update()
    e._stats.append(e._record(loss_g, gn_g))
    e.step += 1
    if "d" not in e.frozen:
        e.d_updates += dk
    if "g" not in e.frozen:
        e.g_updates += 1


def _optimistic(e) -> None:
    """x += 2 Delta_t - Delta_{t-1} for each player that is not frozen."""
    for net in ("d", "g"):
        if net in e.frozen:
            continue
        params = e._params(net)
        with torch.no_grad():
            before = [p.clone() for p in params]
            (e._d_apply if net == "d" else e._g_apply)(clip=False)
            delta = torch._foreach_sub(params, before)
            previous = e._previous_step.get(net, delta)
            torch._foreach_add_(params, delta)
            torch._foreach_sub_(params, previous)
            e._previous_step[net] = delta
            if net == "d":
                e._clip()
