"""The fast engine: the reference run in a fraction of the ops (flat tensors, hand-written passes)."""

from __future__ import annotations

import torch

from .. import losses
from ..config import dynamics_changes
from ..models import FlatMLP
from . import autograd, rules
from .cudagraph import _StepGraph, _pack
from .flat import make_flat_optimizer
from .run import _Run

#: Options the fast engine computes through torch.autograd (at autograd's speed), and says so.
AUTOGRAD_KEYS = ("consensus", "spectral_norm")
#: Options a captured CUDA graph may hold (the rest train eagerly).
GRAPH_KEYS = frozenset({"adam_beta1", "adam_beta2", "ttur", "ema", "r1", "r2"})


class Engine(_Run):
    """The fast engine: the run of :class:`ReferenceEngine`, in a fraction of the ops.

    ``G`` and ``D`` are still the ``nn.Module`` networks (their parameters are
    views of the flat tensors), so calling them, ``state()`` and
    ``load_state()`` work as before; training goes through ``Gf`` and ``Df``,
    their :class:`~ganviz.core.models.FlatMLP` views.

    Every update rule, Adam's betas, instance noise, R1, R2 and the EMA of G
    are written out by hand here; consensus and spectral normalisation take
    their gradients from :mod:`.autograd` (the reference engine's), written
    into the flat gradients: the same algorithm at autograd's speed, which
    :attr:`note` says.

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
        self.opt_d = make_flat_optimizer(c.optimizer, self.Df, c.lr_d, self.betas)
        self.opt_g = make_flat_optimizer(c.optimizer, self.Gf, c.lr_g, self.betas)
        self._optimizers_built += 1  # a CUDA graph holds the old ones: capture again

    def _ema_bound(self) -> None:
        self.Gema_f = FlatMLP(self.G_ema)

    def _optimizer_state(self) -> dict:
        return {"D": self.opt_d.state_dict(), "G": self.opt_g.state_dict()}

    def _load_optimizer_state(self, optim: dict) -> None:
        self.opt_d.load_state_dict(optim["D"])
        self.opt_g.load_state_dict(optim["G"])

    @property
    def autograd_keys(self) -> list[str]:
        """The config's options this engine computes through torch.autograd."""
        return [k for k in AUTOGRAD_KEYS if getattr(self.config, k)]

    @property
    def note(self) -> str:
        keys = self.autograd_keys
        return f"autograd engine: {', '.join(keys)} on" if keys else ""

    def _halves(self, m: int) -> torch.Tensor:
        """(2, 2m) rows that average the real and the fake half of a (2m,) vector (cached)."""
        rows = self._consts.get(m)
        if rows is None:
            with torch.inference_mode(False):  # a plain tensor, whichever mode asks first
                rows = torch.zeros(2, 2 * m, device=self.device, dtype=self.Df.params.dtype)
                rows[0, :m] = rows[1, m:] = 1.0 / m
            self._consts[m] = rows
        return rows

    def _params(self, net: str) -> list[torch.Tensor]:
        return [{"d": self.Df, "g": self.Gf, "ema": getattr(self, "Gema_f", None)}[net].params]

    # --- the update rules' primitives -----------------------------------------------

    def train_step(self) -> None:
        """One iteration of the update rule (:mod:`.rules`).

        On CUDA, Algorithm 1 without autograd options can be replayed from a
        captured graph: the iteration's samples are drawn first, in the order
        the rule draws them, and copied into the graph's inputs.
        """
        c = self.config
        if (self._graph is None or c.update != "alternating"
                or not set(dynamics_changes(c)) <= GRAPH_KEYS):
            rules.iterate(self)
            return
        k = self._d_steps()
        draws = [self._draw_d() for _ in range(k)]
        gdraw = self._draw_g()
        with torch.inference_mode():
            record = self._graph.run(draws, gdraw)
            if record is None:
                record = self._iteration(draws, gdraw)
        self._stats.append(record)
        self.step += 1
        if "d" not in self.frozen:
            self.d_updates += k
        if "g" not in self.frozen:
            self.g_updates += 1

    def _iteration(self, draws, gdraw) -> tuple:
        """Algorithm 1's device work on given draws (what a CUDA graph captures); its record."""
        k = len(draws)
        for i, dd in enumerate(draws):
            self._d_grad(dd, stats=i == k - 1)
            self._d_apply()
        loss_g, grad_norm_g = self._g_grad(gdraw)
        self._g_apply()
        self._ema_update()
        return self._record(loss_g, grad_norm_g)

    def _record(self, loss_g, grad_norm_g):
        return self._last_d + (loss_g, grad_norm_g)

    def _d_grad(self, dd, stats: bool) -> None:
        """D's gradient into ``Df.grad``. The loss gradient with respect to D's logits
        is the registry's closed form: d/dl of mean(term) is term'(l) / m on each half."""
        if self.autograd_keys:
            grads, loss, real_l, fake_l = autograd.d_direction(self, dd, self.D_drawn)
            self._store(self.Df, grads)
            if stats:
                drawn = losses.get(self.config.loss).drawn
                with torch.no_grad():
                    means = torch.stack([drawn(real_l).mean(), drawn(fake_l).mean()])
                    self._last_d = (loss, means, torch.linalg.vector_norm(self.Df.grad))
            return
        c = self.config
        loss_fn = losses.get(c.loss)
        m = c.batch_size
        real, z, eps, noise = dd
        with torch.inference_mode():
            x = torch.cat([real, self.Gf(z)])
            if noise is not None:
                x.add_(noise)
            logits, acts = self.Df.forward(x)
            real_l, fake_l = logits[:m], logits[m:]
            d_logits = torch.cat([loss_fn.d_real_grad(real_l), loss_fn.d_fake_grad(fake_l)]).div_(m)
            self.Df.backward(d_logits, acts, weights=True, inputs=False)
            if stats:
                loss = loss_fn.d_value(real_l, fake_l)
                means = torch.mv(self._halves(m), loss_fn.drawn(logits).view(-1))
            xr, xf = x[:m], x[m:]
            if loss_fn.gradient_penalty:
                penalty = self.Df.gradient_penalty(eps * xr + (1 - eps) * xf, c.gp_weight)
                if stats:
                    loss = loss + c.gp_weight * penalty
            for gamma, xs in ((c.r1, xr), (c.r2, xf)):
                if gamma > 0:
                    penalty = self.Df.gradient_penalty(xs, gamma / 2, centre=0.0)
                    if stats:
                        loss = loss + gamma / 2 * penalty
            if stats:
                self._last_d = (loss, means, torch.linalg.vector_norm(self.Df.grad))

    def _g_grad(self, gd) -> tuple[torch.Tensor, torch.Tensor]:
        """G's gradient into ``Gf.grad``; only G's gradient is formed, so D's stays as it was."""
        if self.autograd_keys:
            grads, loss = autograd.g_direction(self, gd, self.D_drawn)
            self._store(self.Gf, grads)
            return loss, torch.linalg.vector_norm(self.Gf.grad)
        c = self.config
        loss_fn = losses.get(c.loss)
        z, noise = gd
        with torch.inference_mode():
            fake, g_acts = self.Gf.forward(z)
            logits, d_acts = self.Df.forward(fake if noise is None else fake + noise)
            d_logits = loss_fn.g_fake_grad(logits).div(c.batch_size)
            loss = loss_fn.g_value(logits)
            d_fake = self.Df.backward(d_logits, d_acts, weights=False, inputs=True)
            self.Gf.backward(d_fake, g_acts, weights=True, inputs=False)
            return loss, torch.linalg.vector_norm(self.Gf.grad)

    def _joint_grad(self, dd, gd, stats: bool):
        gd_, gg, loss_d, real_l, fake_l, loss_g = autograd.consensus_directions(
            self, dd, gd, self.D_drawn)
        self._store(self.Df, gd_)
        self._store(self.Gf, gg)
        with torch.no_grad():
            if stats:
                drawn = losses.get(self.config.loss).drawn
                means = torch.stack([drawn(real_l).mean(), drawn(fake_l).mean()])
                self._last_d = (loss_d, means, torch.linalg.vector_norm(self.Df.grad))
            return loss_g, torch.linalg.vector_norm(self.Gf.grad)

    @staticmethod
    def _store(flat: FlatMLP, grads) -> None:
        """Autograd's gradients (shaped like the module's parameters) into the flat gradient."""
        with torch.no_grad():
            for view, g in zip(flat.grad_views(), grads):
                view.copy_(g)

    def _d_apply(self, clip: bool = True) -> None:
        if "d" in self.frozen:
            return
        with torch.inference_mode():
            self.opt_d.step()
            if clip:
                self._clip()

    def _g_apply(self, clip: bool = True) -> None:
        if "g" not in self.frozen:
            with torch.inference_mode():
                self.opt_g.step()

    def _clip(self) -> None:
        c = self.config
        if losses.get(c.loss).clip_weights and "d" not in self.frozen:
            with torch.no_grad():
                self.Df.params.clamp_(-c.clip, c.clip)

    def _stacked_stats(self) -> torch.Tensor:
        # Eager records: (loss_d, [d_real, d_fake], grad_norm_d, loss_g, grad_norm_g);
        # CUDA-graph records: the same, already packed as one row.
        if all(isinstance(r, tuple) for r in self._stats):
            loss_d, means, gn_d, loss_g, gn_g = (torch.stack(col) for col in zip(*self._stats))
            return torch.cat([torch.stack([loss_d, loss_g, gn_g, gn_d], 1), means], 1)
        return torch.stack([_pack(r) if isinstance(r, tuple) else r for r in self._stats])
