"""The reference engine: modules, autograd and ``torch.optim``; the specification of a run."""

from __future__ import annotations

import torch

from .. import losses
from ..config import ConfigError
from .flat import ADAM_BETAS, ADAM_EPS, RMSPROP_ALPHA, RMSPROP_EPS, SGD_MOMENTUM
from .run import _Run


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """``sgd`` (momentum 0.9, as in the paper), ``adam`` (beta1 0.5, as in DCGAN) or ``rmsprop``."""
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=RMSPROP_ALPHA, eps=RMSPROP_EPS)
    raise ConfigError(f"unknown optimizer {name!r}; accepted: sgd, adam, rmsprop")


def _grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of a list of gradients, as a 0-dim tensor on their device."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class ReferenceEngine(_Run):
    """The straightforward engine: module forward passes, autograd and ``torch.optim``.

    It defines what :class:`Engine` must compute; keep it plain.

    Parameters
    ----------
    config : Config
        The run. Model weights, minibatches and noise all follow ``config.seed``.
    """

    def _build_optimizers(self) -> None:
        c = self.config
        self.opt_d = make_optimizer(c.optimizer, self.d_params, c.lr_d)
        self.opt_g = make_optimizer(c.optimizer, self.g_params, c.lr_g)

    def d_step(self) -> None:
        c = self.config
        loss_fn = losses.get(c.loss)
        m = c.batch_size
        real = self.sample_real(m)
        with torch.no_grad():
            fake = self.G(self.sample_z(m))
        # One forward over both halves: the same maths as two, half the op calls.
        logits = self.D(torch.cat([real, fake]))
        real_l, fake_l = logits[:m], logits[m:]
        loss = loss_fn.d_value(real_l, fake_l)
        if loss_fn.gradient_penalty:
            eps = torch.rand(m, 1, generator=self.rng, device=self.device)
            loss = loss + c.gp_weight * losses.gradient_penalty(self.D, real, fake, eps)
        grads = torch.autograd.grad(loss, self.d_params)
        if "d" not in self.frozen:
            for p, g in zip(self.d_params, grads):
                p.grad = g
            self.opt_d.step()
            if loss_fn.clip_weights:
                with torch.no_grad():
                    torch._foreach_clamp_min_(self.d_params, -c.clip)
                    torch._foreach_clamp_max_(self.d_params, c.clip)
            self.d_updates += 1
        with torch.no_grad():
            self._last_d = (
                loss.detach(),
                loss_fn.drawn(real_l).mean(),
                loss_fn.drawn(fake_l).mean(),
                _grad_norm(list(grads)),
            )

    def g_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One update of G; only G's parameters are differentiated, so D stays as it was."""
        c = self.config
        fake = self.G(self.sample_z(c.batch_size))
        loss = losses.get(c.loss).g_value(self.D(fake))
        grads = torch.autograd.grad(loss, self.g_params)
        if "g" not in self.frozen:
            for p, g in zip(self.g_params, grads):
                p.grad = g
            self.opt_g.step()
            self.g_updates += 1
        return loss.detach(), _grad_norm(list(grads))
