"""The fast engine: the reference run in a fraction of the ops (flat tensors, hand-written passes)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

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

    def _const(self, m: int) -> dict:
        """Per-batch-size constants: signs, averaging rows and the WGAN logit gradients."""
        consts = self._consts.get(m)
        if consts is None:
            consts = self._consts[m] = self._make_consts(m)
        return consts

    @torch.inference_mode(False)  # plain tensors, whichever mode the first step runs in
    def _make_consts(self, m: int) -> dict:
        kw = dict(device=self.device, dtype=self.Df.params.dtype)
        ones = torch.ones(m, 1, **kw)
        sign = torch.cat([-ones, ones])  # the D loss is mean softplus(sign * logit)
        # Rows that average the real and the fake half of a (2m,) vector.
        halves = torch.zeros(2, 2 * m, **kw)
        halves[0, :m] = halves[1, m:] = 1.0 / m
        return dict(
            sign=sign,
            sign_m=sign / m,  # also the WGAN critic's dL/dlogit
            inv_m=torch.full((2 * m,), 1.0 / m, **kw),
            g_wgan=torch.full((m, 1), -1.0 / m, **kw),
            halves=halves,
            # flip0 + flip @ s = [1 - mean of the first half, mean of the second]: D(x) on
            # real and fake samples from s = [sigmoid(-real logits), sigmoid(fake logits)].
            flip=halves * torch.tensor([[-1.0], [1.0]], **kw),
            flip0=torch.tensor([1.0, 0.0], **kw),
        )

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
        if self.config.loss != "wgan-gp":
            return None
        return torch.rand(m, 1, generator=self.rng, device=self.device)

    def _d_update(self, real, fake, eps, stats: bool) -> None:
        """One D step on ``real`` and ``fake`` (m each); ``stats`` keeps its scalars."""
        c = self.config
        m = c.batch_size
        x = torch.cat([real, fake])
        k = self._const(m)
        logits, acts = self.Df.forward(x)
        if c.loss in ("wgan", "wgan-gp"):
            d_logits = k["sign_m"]  # the critic loss is linear in its logits
            if stats:
                loss = torch.dot(logits.view(-1), d_logits.view(-1))
                means = torch.mv(k["halves"], logits.view(-1))
        else:
            # loss = mean softplus(sign * l) over each half; dloss/dl = sign * sigmoid(sign * l) / m
            sl = logits * k["sign"]
            s = torch.sigmoid(sl)
            d_logits = s * k["sign_m"]
            if stats:
                loss = torch.dot(F.softplus(sl).view(-1), k["inv_m"])
                means = torch.addmv(k["flip0"], k["flip"], s.view(-1))
        self.Df.backward(d_logits, acts, weights=True, inputs=False)
        if c.loss == "wgan-gp":
            x_hat = eps * real + (1 - eps) * fake
            penalty = self.Df.gradient_penalty(x_hat, c.gp_weight)
            if stats:
                loss = loss + c.gp_weight * penalty
        if stats:
            self._last_d = (loss, means, torch.linalg.vector_norm(self.Df.grad))
        if "d" in self.frozen:
            return
        self.opt_d.step()
        if c.loss == "wgan":
            self.Df.params.clamp_(-c.clip, c.clip)

    def _g_update(self, fake, g_acts) -> tuple[torch.Tensor, torch.Tensor]:
        """One G step, given G's output on fresh noise and its activations."""
        c = self.config
        m = c.batch_size
        logits, d_acts = self.Df.forward(fake)
        if c.loss == "nonsaturating":
            # loss = mean softplus(-l); dloss/dl = -sigmoid(-l) / m
            neg = -logits
            d_logits = torch.sigmoid(neg).mul_(-1.0 / m)
            loss = F.softplus(neg).mean()
        elif c.loss == "minimax":
            # loss = -mean softplus(l); dloss/dl = -sigmoid(l) / m
            d_logits = torch.sigmoid(logits).mul_(-1.0 / m)
            loss = -F.softplus(logits).mean()
        else:
            d_logits = self._const(m)["g_wgan"]
            loss = -logits.mean()
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

