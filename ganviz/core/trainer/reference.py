"""The reference engine: modules, autograd and ``torch.optim``; the specification of a run."""

from __future__ import annotations

import torch

from ..config import ConfigError
from . import autograd
from .flat import ADAM_BETAS, ADAM_EPS, RMSPROP_ALPHA, RMSPROP_EPS, SGD_MOMENTUM
from .run import _Run


def make_optimizer(name: str, params, lr: float, betas=ADAM_BETAS) -> torch.optim.Optimizer:
    """``sgd`` (momentum 0.9, as in the paper), ``adam`` (``betas``; (0.5, 0.999) as in DCGAN) or ``rmsprop``."""
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=tuple(betas), eps=ADAM_EPS)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=RMSPROP_ALPHA, eps=RMSPROP_EPS)
    raise ConfigError(f"unknown optimizer {name!r}; accepted: sgd, adam, rmsprop")


def _grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of a list of gradients, as a 0-dim tensor on their device."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class ReferenceEngine(_Run):
    """The straightforward engine: module forward passes, autograd and ``torch.optim``.

    It defines what :class:`Engine` must compute; keep it plain. Every option's
    gradient is :mod:`.autograd`'s; the update rules are :mod:`.rules`'.

    Parameters
    ----------
    config : Config
        The run. Model weights, minibatches and noise all follow ``config.seed``.
    """

    def _build_optimizers(self) -> None:
        c = self.config
        self.opt_d = make_optimizer(c.optimizer, self.d_params, c.lr_d, self.betas)
        self.opt_g = make_optimizer(c.optimizer, self.g_params, c.lr_g, self.betas)

    def _objective_d(self):
        """D as the objectives see it: the module, or its spectrally normalised view."""
        return self.D_drawn

    def _keep_d(self, grads, loss, real_l, fake_l, stats: bool) -> None:
        self._grads_d = grads
        if stats:
            loss_fn = autograd.losses.get(self.config.loss)
            with torch.no_grad():
                self._last_d = (loss, loss_fn.drawn(real_l).mean(), loss_fn.drawn(fake_l).mean(),
                                _grad_norm(grads))

    def _d_grad(self, dd, stats: bool) -> None:
        self._keep_d(*autograd.d_direction(self, dd, self._objective_d()), stats)

    def _g_grad(self, gd):
        self._grads_g, loss = autograd.g_direction(self, gd, self._objective_d())
        return loss, _grad_norm(self._grads_g)

    def _joint_grad(self, dd, gd, stats: bool):
        gd_, gg, loss_d, real_l, fake_l, loss_g = autograd.consensus_directions(
            self, dd, gd, self._objective_d())
        self._keep_d(gd_, loss_d, real_l, fake_l, stats)
        self._grads_g = gg
        return loss_g, _grad_norm(gg)

    def _d_apply(self, clip: bool = True) -> None:
        if "d" in self.frozen:
            return
        for p, g in zip(self.d_params, self._grads_d):
            p.grad = g
        self.opt_d.step()
        if clip:
            self._clip()

    def _g_apply(self, clip: bool = True) -> None:
        if "g" in self.frozen:
            return
        for p, g in zip(self.g_params, self._grads_g):
            p.grad = g
        self.opt_g.step()
