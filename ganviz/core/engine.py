"""One training run: Algorithm 1 of Goodfellow et al. 2014 with k D steps per G step.

Per-step scalars stay on the device; :meth:`Engine.drain` reads them back in
one transfer, once per snapshot, so training never waits on a host sync.
"""

from __future__ import annotations

import os

import torch

from . import losses
from .config import HOT_KEYS, Config, ConfigError
from .data import make_target
from .models import make_models

#: Per-iteration scalars, in the order they are stacked on the device.
STEP_STATS = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "d_real", "d_fake")


def set_threads() -> int:
    """Set torch's intra-op threads for training; returns the count.

    These matrices are small: one thread trains as fast as two here and leaves
    a core to the GUI, and more threads than free cores make OpenMP spin
    (DESIGN.md section 7). ``GANVIZ_THREADS`` overrides.
    """
    n = int(os.environ.get("GANVIZ_THREADS", "1"))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when torch sees it, else CPU; ``cuda`` must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA device; accepted: auto, cpu")
    return torch.device(name)


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """``sgd`` (momentum 0.9, as in the paper), ``adam`` (beta1 0.5, as in DCGAN) or ``rmsprop``."""
    params = list(params)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise ConfigError(f"unknown optimizer {name!r}; accepted: sgd, adam, rmsprop")


def _grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of a list of gradients, as a 0-dim tensor on their device."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class Engine:
    """A GAN on a toy target, trained one iteration (k D steps, 1 G step) at a time.

    Parameters
    ----------
    config : Config
        The run. Model weights, minibatches and noise all follow ``config.seed``.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        set_threads()
        self.target = make_target(config.data)
        # Model init uses the global RNG: fork it so a run never disturbs another.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            G, D = make_models(self.target.dim, config.z_dim, config.hidden, config.layers)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.D.parameters())
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed)
        self._build_optimizers()
        self.step = 0  # completed G steps (iterations)
        self.d_updates = 0
        self.g_updates = 0
        self._stats: list[torch.Tensor] = []
        self._last_d = None  # (loss_d, d_real, d_fake, grad_norm_d) of the last D step

    # --- parameters --------------------------------------------------------

    def _build_optimizers(self) -> None:
        c = self.config
        self.opt_d = make_optimizer(c.optimizer, self.d_params, c.lr_d)
        self.opt_g = make_optimizer(c.optimizer, self.g_params, c.lr_g)

    def apply(self, changes: dict) -> Config:
        """Apply hot parameter changes at the next step; returns the new config.

        Raises ConfigError for a cold key (those need a new Engine) or a bad value.
        """
        cold = sorted(set(changes) - HOT_KEYS - {"lr"})
        if cold:
            raise ConfigError(f"{', '.join(cold)} cannot change during a run; restart it")
        old, new = self.config, self.config.replace(**changes)
        self.config = new
        if new.optimizer != old.optimizer:
            self._build_optimizers()  # a new optimizer starts with fresh state
        else:
            for group in self.opt_d.param_groups:
                group["lr"] = new.lr_d
            for group in self.opt_g.param_groups:
                group["lr"] = new.lr_g
        return new

    # --- sampling ----------------------------------------------------------

    def sample_real(self, m: int) -> torch.Tensor:
        """(m, dim) float32 samples of p_data on the device."""
        return self.target.sample(m, self.rng, self.device)

    def sample_z(self, m: int) -> torch.Tensor:
        """(m, z_dim) float32 noise z ~ N(0, I) on the device."""
        return torch.randn(m, self.config.z_dim, generator=self.rng, device=self.device)

    # --- Algorithm 1 -------------------------------------------------------

    def d_step(self) -> None:
        """One update of D (the critic) on a fresh minibatch of real and generated samples."""
        c = self.config
        m = c.batch_size
        real = self.sample_real(m)
        with torch.no_grad():
            fake = self.G(self.sample_z(m))
        # One forward over both halves: the same maths as two, half the op calls.
        logits = self.D(torch.cat([real, fake]))
        real_l, fake_l = logits[:m], logits[m:]
        loss = losses.d_loss(c.loss, real_l, fake_l)
        if c.loss == "wgan-gp":
            eps = torch.rand(m, 1, generator=self.rng, device=self.device)
            loss = loss + c.gp_weight * losses.gradient_penalty(self.D, real, fake, eps)
        grads = torch.autograd.grad(loss, self.d_params)
        for p, g in zip(self.d_params, grads):
            p.grad = g
        self.opt_d.step()
        if c.loss == "wgan":
            with torch.no_grad():
                torch._foreach_clamp_min_(self.d_params, -c.clip)
                torch._foreach_clamp_max_(self.d_params, c.clip)
        self.d_updates += 1
        with torch.no_grad():
            self._last_d = (
                loss.detach(),
                losses.d_probability(c.loss, real_l).mean(),
                losses.d_probability(c.loss, fake_l).mean(),
                _grad_norm(list(grads)),
            )

    def g_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One update of G on a fresh noise minibatch; returns (loss_g, grad_norm_g) on the device.

        Only G's parameters are differentiated, so D is left exactly as it was.
        """
        c = self.config
        fake = self.G(self.sample_z(c.batch_size))
        loss = losses.g_loss(c.loss, self.D(fake))
        grads = torch.autograd.grad(loss, self.g_params)
        for p, g in zip(self.g_params, grads):
            p.grad = g
        self.opt_g.step()
        self.g_updates += 1
        return loss.detach(), _grad_norm(list(grads))

    def train_step(self) -> None:
        """One iteration of Algorithm 1: k D steps, then one G step."""
        for _ in range(self.config.k):
            self.d_step()
        loss_g, gn_g = self.g_step()
        loss_d, d_real, d_fake, gn_d = self._last_d
        self._stats.append(torch.stack([loss_d, loss_g, gn_g, gn_d, d_real, d_fake]))
        self.step += 1

    def drain(self) -> dict[str, "numpy.ndarray"]:
        """Per-iteration scalars since the last drain, read back in one transfer.

        Returns
        -------
        dict
            ``step`` (n,) int64 and each of STEP_STATS as (n,) float64.
        """
        import numpy as np

        n = len(self._stats)
        steps = np.arange(self.step - n + 1, self.step + 1, dtype=np.int64)
        if n == 0:
            values = np.empty((0, len(STEP_STATS)))
        else:
            values = torch.stack(self._stats).double().cpu().numpy()
        self._stats.clear()
        out = {"step": steps}
        out.update({name: values[:, i].copy() for i, name in enumerate(STEP_STATS)})
        return out

    # --- state -------------------------------------------------------------

    def state(self) -> dict:
        """Weights of G and D (CPU copies), for a checkpoint or a session file."""
        return {
            "G": {k: v.detach().cpu().clone() for k, v in self.G.state_dict().items()},
            "D": {k: v.detach().cpu().clone() for k, v in self.D.state_dict().items()},
        }

    def load_state(self, state: dict) -> None:
        """Restore weights saved by :meth:`state`; optimizers start afresh."""
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self._build_optimizers()
