"""The fast engine: the reference run in a fraction of the ops (flat tensors, hand-written passes)."""

from __future__ import annotations

import torch

from .. import losses
from ..models import FlatMLP
from .cudagraph import _StepGraph, _pack
from .flat import make_flat_optimizer
from .run import _Run


class Engine(_Run):
    """The fast engine: the run of :class:`ReferenceEngine`, in a fraction of the ops.

    ``G`` and ``D`` are still the ``nn.Module`` networks (their parameters are
    views of the flat tensors), so calling them, ``state()`` and
    ``load_state()`` work as before; training goes through ``Gf`` and ``Df``,
    their :class:`~ganviz.core.models.FlatMLP` views.

    Parameters
    ----------
    config : Config
        The run. Model weights, minibatches and noise all follow ``config.seed``.
    """

    def _init_params(self) -> None:
        self.Gf = FlatMLP(self.G)
        self.Df = FlatMLP(self.D)
        self._consts: dict = {}
        self._optimizers_built = 0
        self._graph = _StepGraph(self) if _StepGraph.wanted(self) else None

    def _build_optimizers(self) -> None:
        c = self.config
        self.opt_d = make_flat_optimizer(c.optimizer, self.Df, c.lr_d)
        self.opt_g = make_flat_optimizer(c.optimizer, self.Gf, c.lr_g)
        self._optimizers_built += 1  # a CUDA graph holds the old ones: capture again

    def _optimizer_state(self) -> dict:
        return {"D": self.opt_d.state_dict(), "G": self.opt_g.state_dict()}

    def _load_optimizer_state(self, optim: dict) -> None:
        self.opt_d.load_state_dict(optim["D"])
        self.opt_g.load_state_dict(optim["G"])

    def _halves(self, m: int) -> torch.Tensor:
        """(2, 2m) rows that average the real and the fake half of a (2m,) vector (cached)."""
        rows = self._consts.get(m)
        if rows is None:
            with torch.inference_mode(False):  # a plain tensor, whichever mode asks first
                rows = torch.zeros(2, 2 * m, device=self.device, dtype=self.Df.params.dtype)
                rows[0, :m] = rows[1, m:] = 1.0 / m
            self._consts[m] = rows
        return rows

    # --- Algorithm 1 -------------------------------------------------------

    def d_step(self) -> None:
        m = self.config.batch_size
        with torch.inference_mode():
            real, z, eps = self.sample_real(m), self.sample_z(m), self._sample_eps(m)
            self._d_update(real, self.Gf(z), eps, stats=True)
        if "d" not in self.frozen:
            self.d_updates += 1

    def g_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One update of G; only G's gradient is formed, so D stays as it was."""
        with torch.inference_mode():
            out = self._g_update(*self.Gf.forward(self.sample_z(self.config.batch_size)))
        if "g" not in self.frozen:
            self.g_updates += 1
        return out

    def train_step(self) -> None:
        """One iteration of Algorithm 1: k D steps, then one G step.

        The iteration's samples are drawn first, in the order the reference
        engine draws them (each D step's real batch, noise and, for WGAN-GP,
        interpolation weights; then the G step's noise); no autograd
        bookkeeping runs, since every gradient here is written out by hand.
        """
        k, m = self._d_steps(), self.config.batch_size
        with torch.inference_mode():
            draws = [(self.sample_real(m), self.sample_z(m), self._sample_eps(m)) for _ in range(k)]
            z_g = self.sample_z(m)
            record = None
            if self._graph is not None:
                record = self._graph.run(draws, z_g)
            if record is None:
                record = self._iteration(draws, z_g)
        self._stats.append(record)
        self.step += 1
        if "d" not in self.frozen:
            self.d_updates += k
        if "g" not in self.frozen:
            self.g_updates += 1

    def _iteration(self, draws, z_g) -> tuple:
        """The device work of one iteration on given samples; returns its per-step scalars."""
        k = len(draws)
        for i, (real, z, eps) in enumerate(draws):
            self._d_update(real, self.Gf(z), eps, stats=i == k - 1)
        loss_g, grad_norm_g = self._g_update(*self.Gf.forward(z_g))
        return self._last_d + (loss_g, grad_norm_g)

    def _sample_eps(self, m: int) -> torch.Tensor | None:
        """WGAN-GP's interpolation weights, drawn right after the D step's noise."""
        if not losses.get(self.config.loss).gradient_penalty:
            return None
        return torch.rand(m, 1, generator=self.rng, device=self.device)

    def _d_update(self, real, fake, eps, stats: bool) -> None:
        """One D step on ``real`` and ``fake`` (m each); ``stats`` keeps its scalars.

        The loss gradient with respect to D's logits is the registry's closed
        form: d/dl of mean(term) is term'(l) / m on each half.
        """
        c = self.config
        loss_fn = losses.get(c.loss)
        m = c.batch_size
        x = torch.cat([real, fake])
        logits, acts = self.Df.forward(x)
        real_l, fake_l = logits[:m], logits[m:]
        d_logits = torch.cat([loss_fn.d_real_grad(real_l), loss_fn.d_fake_grad(fake_l)]).div_(m)
        self.Df.backward(d_logits, acts, weights=True, inputs=False)
        if stats:
            loss = loss_fn.d_value(real_l, fake_l)
            means = torch.mv(self._halves(m), loss_fn.drawn(logits).view(-1))
        if loss_fn.gradient_penalty:
            x_hat = eps * real + (1 - eps) * fake
            penalty = self.Df.gradient_penalty(x_hat, c.gp_weight)
            if stats:
                loss = loss + c.gp_weight * penalty
        if stats:
            self._last_d = (loss, means, torch.linalg.vector_norm(self.Df.grad))
        if "d" in self.frozen:
            return
        self.opt_d.step()
        if loss_fn.clip_weights:
            self.Df.params.clamp_(-c.clip, c.clip)

    def _g_update(self, fake, g_acts) -> tuple[torch.Tensor, torch.Tensor]:
        """One G step, given G's output on fresh noise and its activations."""
        c = self.config
        loss_fn = losses.get(c.loss)
        logits, d_acts = self.Df.forward(fake)
        d_logits = loss_fn.g_fake_grad(logits).div(c.batch_size)
        loss = loss_fn.g_value(logits)
        d_fake = self.Df.backward(d_logits, d_acts, weights=False, inputs=True)
        self.Gf.backward(d_fake, g_acts, weights=True, inputs=False)
        grad_norm = torch.linalg.vector_norm(self.Gf.grad)
        if "g" not in self.frozen:
            self.opt_g.step()
        return loss, grad_norm

    def _stacked_stats(self) -> torch.Tensor:
        # Eager records: (loss_d, [d_real, d_fake], grad_norm_d, loss_g, grad_norm_g);
        # CUDA-graph records: the same, already packed as one row.
        if all(isinstance(r, tuple) for r in self._stats):
            loss_d, means, gn_d, loss_g, gn_g = (torch.stack(col) for col in zip(*self._stats))
            return torch.cat([torch.stack([loss_d, loss_g, gn_g, gn_d], 1), means], 1)
        return torch.stack([_pack(r) if isinstance(r, tuple) else r for r in self._stats])

