"""One training run: Algorithm 1 of Goodfellow et al. 2014 with k D steps per G step.

Two implementations of the same run, with the same random stream, give the
same numbers (tests/test_engine_fast.py checks it for every loss, optimizer
and k):

- :class:`ReferenceEngine` is the straightforward one: ``nn.Module`` forward
  passes, autograd, ``torch.optim``. It is the specification.
- :class:`Engine` is the fast one the app runs. For these tiny MLPs a step's
  time is mostly per-op overhead, so it does the same maths in far fewer ops:
  each network's parameters and gradients live in one flat tensor
  (:class:`~ganviz.core.models.FlatMLP`), the forward and backward passes are
  written out by hand (a dozen matrix products, no autograd graph; WGAN-GP's
  double backward too), the loss gradients are written in closed form, and
  each optimizer step is a few ops on the flat tensors. docs/performance.md
  has what each change gave.

Per-step scalars stay on the device; :meth:`drain` reads them back in one
transfer, once per snapshot, so training never waits on a host sync.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from . import losses
from .config import HOT_KEYS, Config, ConfigError
from .data import make_target
from .models import FlatMLP, make_models

#: Per-iteration scalars, in the order they are stacked on the device.
STEP_STATS = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "d_real", "d_fake")

#: Optimizer hyper-parameters besides the learning rate (shared by both engines).
SGD_MOMENTUM = 0.9  # as in the paper
ADAM_BETAS = (0.5, 0.999)  # as in DCGAN
ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99
RMSPROP_EPS = 1e-8


#: torch's own thread count at import: the physical cores it found.
_DEFAULT_THREADS = torch.get_num_threads()


def set_threads(beside_gui: bool = False) -> int:
    """Set torch's intra-op threads for training; returns the count.

    Headless, training takes every core torch would use by default. Beside
    the GUI it takes one fewer, so drawing keeps a core: more busy threads
    than free cores make OpenMP spin (DESIGN.md section 7, docs/performance.md).
    ``GANVIZ_THREADS`` overrides both.
    """
    default = max(1, _DEFAULT_THREADS - 1) if beside_gui else _DEFAULT_THREADS
    n = int(os.environ.get("GANVIZ_THREADS", default))
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
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=RMSPROP_ALPHA, eps=RMSPROP_EPS)
    raise ConfigError(f"unknown optimizer {name!r}; accepted: sgd, adam, rmsprop")


def _grad_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """Global L2 norm of a list of gradients, as a 0-dim tensor on their device."""
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


class _Run:
    """What both engines share: config, target, models, random stream, counters, stats, state."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.target = make_target(config.data)
        # Model init uses the global RNG: fork it so a run never disturbs another.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            G, D = make_models(self.target.dim, config.z_dim, config.hidden, config.layers)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self._init_params()
        self.g_params = list(self.G.parameters())
        self.d_params = list(self.D.parameters())
        self.rng = torch.Generator(device=self.device).manual_seed(config.seed)
        self._build_optimizers()
        self.step = 0  # completed G steps (iterations)
        self.d_updates = 0
        self.g_updates = 0
        self.frozen: frozenset[str] = frozenset()  # "d", "g": evaluated, never updated
        self._stats: list = []  # per-iteration scalars on the device, until drained
        self._last_d = None  # the last D step's scalars (each engine its own layout)

    def _init_params(self) -> None:
        """Hook for the fast engine to move the parameters into flat tensors."""

    def _build_optimizers(self) -> None:
        raise NotImplementedError

    def _set_lr(self) -> None:
        for group in self.opt_d.param_groups:
            group["lr"] = self.config.lr_d
        for group in self.opt_g.param_groups:
            group["lr"] = self.config.lr_g

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
            self._set_lr()
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
        raise NotImplementedError

    def g_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One update of G on a fresh noise minibatch; returns (loss_g, grad_norm_g) on the device."""
        raise NotImplementedError

    def freeze(self, d: bool | None = None, g: bool | None = None) -> None:
        """Freeze or thaw D and G: a frozen network is evaluated (losses, gradient
        norms) but never updated; with D frozen an iteration evaluates it once."""
        frozen = set(self.frozen)
        for name, on in (("d", d), ("g", g)):
            if on is not None:
                (frozen.add if on else frozen.discard)(name)
        self.frozen = frozenset(frozen)

    def _d_steps(self) -> int:
        """D steps in an iteration: k, or one evaluation when D is frozen."""
        return 1 if "d" in self.frozen else self.config.k

    def train_step(self) -> None:
        """One iteration of Algorithm 1: k D steps, then one G step."""
        for _ in range(self._d_steps()):
            self.d_step()
        loss_g, gn_g = self.g_step()
        loss_d, d_real, d_fake, gn_d = self._last_d
        self._stats.append(torch.stack([loss_d, loss_g, gn_g, gn_d, d_real, d_fake]))
        self.step += 1

    def drain(self) -> dict[str, np.ndarray]:
        """Per-iteration scalars since the last drain, read back in one transfer.

        Returns
        -------
        dict
            ``step`` (n,) int64 and each of STEP_STATS as (n,) float64.
        """
        n = len(self._stats)
        steps = np.arange(self.step - n + 1, self.step + 1, dtype=np.int64)
        if n == 0:
            values = np.empty((0, len(STEP_STATS)))
        else:
            values = self._stacked_stats().double().cpu().numpy()
        self._stats.clear()
        out = {"step": steps}
        out.update({name: values[:, i].copy() for i, name in enumerate(STEP_STATS)})
        return out

    def _stacked_stats(self) -> torch.Tensor:
        """(n, len(STEP_STATS)) per-iteration scalars kept since the last drain."""
        return torch.stack(self._stats)

    # --- state -------------------------------------------------------------

    def state(self, full: bool = False) -> dict:
        """Weights of G and D (CPU copies, contiguous), for a checkpoint or a session file.

        ``full`` adds what an exact resume needs: the optimizers' state (where
        the engine can give it), the random stream, the step counters and
        which networks are frozen. Training on from a full state gives the
        same numbers as training on without stopping.
        """
        state = {
            name: {
                k: v.detach().cpu().clone(memory_format=torch.contiguous_format)
                for k, v in net.state_dict().items()
            }
            for name, net in (("G", self.G), ("D", self.D))
        }
        if full:
            optim = self._optimizer_state()
            if optim is not None:
                state["optim"] = {"name": self.config.optimizer, **optim}
            state["rng"] = {"device": self.device.type, "state": self.rng.get_state().cpu()}
            state["counters"] = {"step": self.step, "d_updates": self.d_updates,
                                 "g_updates": self.g_updates}
            state["frozen"] = sorted(self.frozen)
        return state

    def load_state(self, state: dict) -> None:
        """Restore a state saved by :meth:`state`; without its optional parts
        the optimizers start afresh and the random stream and counters go on."""
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self._build_optimizers()
        optim = state.get("optim")
        if optim is not None and optim["name"] == self.config.optimizer:
            self._load_optimizer_state(optim)
        rng = state.get("rng")
        # A stream from another device type has another layout: start this one afresh.
        if rng is not None and rng["device"] == self.device.type:
            self.rng.set_state(rng["state"])
        if "counters" in state:
            counters = state["counters"]
            self.step, self.d_updates, self.g_updates = (
                int(counters[k]) for k in ("step", "d_updates", "g_updates"))
        if "frozen" in state:
            self.frozen = frozenset(state["frozen"])

    def _optimizer_state(self) -> dict | None:
        """{"D": ..., "G": ...} optimizer state for :meth:`state`; None if not kept."""
        return None

    def _load_optimizer_state(self, optim: dict) -> None:
        """Restore what :meth:`_optimizer_state` gave."""


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
        if "d" not in self.frozen:
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
        """One update of G; only G's parameters are differentiated, so D stays as it was."""
        c = self.config
        fake = self.G(self.sample_z(c.batch_size))
        loss = losses.g_loss(c.loss, self.D(fake))
        grads = torch.autograd.grad(loss, self.g_params)
        if "g" not in self.frozen:
            for p, g in zip(self.g_params, grads):
                p.grad = g
            self.opt_g.step()
            self.g_updates += 1
        return loss.detach(), _grad_norm(list(grads))


# --- the fast engine's optimizers ---------------------------------------------


class _FlatOptimizer:
    """An optimizer over one flat parameter tensor and its flat gradient.

    The same update as ``torch.optim``'s single-tensor implementation (the
    same formulas in the same order, so results agree to rounding), in a few
    ops on the whole network at once. ``param_groups[0]["lr"]`` is read at
    every step, as in ``torch.optim``.
    """

    name = ""
    #: The names of the running buffers (each shaped like the flat parameters).
    buffers: tuple[str, ...] = ()

    def __init__(self, net: FlatMLP, lr: float) -> None:
        self.params, self.grad = net.params, net.grad
        self.param_groups = [{"lr": lr}]
        self.steps = 0

    def step(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """{"steps": int, "buffers": {name: (n,) CPU tensor}}: all a resume needs."""
        return {"steps": self.steps,
                "buffers": {n: getattr(self, n).detach().cpu().clone() for n in self.buffers}}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; buffers are copied in place (a CUDA graph keeps their addresses)."""
        for n in self.buffers:
            getattr(self, n).copy_(state["buffers"][n])
        self.steps = int(state["steps"])


class FlatSGD(_FlatOptimizer):
    """SGD with momentum 0.9 (``torch.optim.SGD(momentum=0.9)``)."""

    name = "sgd"
    buffers = ("buf",)

    def __init__(self, net: FlatMLP, lr: float) -> None:
        super().__init__(net, lr)
        self.buf = torch.zeros_like(self.params)

    def step(self) -> None:
        # The first step leaves buf = grad exactly, as torch's clone does.
        self.buf.mul_(SGD_MOMENTUM).add_(self.grad)
        self.params.add_(self.buf, alpha=-self.param_groups[0]["lr"])
        self.steps += 1


class FlatAdam(_FlatOptimizer):
    """Adam with betas (0.5, 0.999) (``torch.optim.Adam``).

    Uses torch's fused Adam kernel (one op for the whole network, the same
    kernel as ``torch.optim.Adam(fused=True)``) where this torch has it for
    the device, else the single-tensor formulas (7 ops).
    """

    name = "adam"
    buffers = ("exp_avg", "exp_avg_sq")

    def __init__(self, net: FlatMLP, lr: float) -> None:
        super().__init__(net, lr)
        self.exp_avg = torch.zeros_like(self.params)
        self.exp_avg_sq = torch.zeros_like(self.params)
        self.fused = _fused_adam_works(self.params.device)
        if self.fused:
            self._step_t = torch.zeros((), dtype=torch.float32, device=self.params.device)
            self._lists = ([self.params], [self.grad], [self.exp_avg], [self.exp_avg_sq], [], [self._step_t])

    def step(self) -> None:
        b1, b2 = ADAM_BETAS
        self.steps += 1
        lr = self.param_groups[0]["lr"]
        if self.fused:
            self._step_t.add_(1)
            torch._fused_adam_(
                *self._lists, lr=lr, beta1=b1, beta2=b2, weight_decay=0.0, eps=ADAM_EPS,
                amsgrad=False, maximize=False,
            )
            return
        g = self.grad
        self.exp_avg.lerp_(g, 1 - b1)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=1 - b2)
        bias1 = 1 - b1**self.steps
        bias2_sqrt = (1 - b2**self.steps) ** 0.5
        denom = (self.exp_avg_sq.sqrt() / bias2_sqrt).add_(ADAM_EPS)
        self.params.addcdiv_(self.exp_avg, denom, value=-lr / bias1)

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.fused:
            self._step_t.fill_(self.steps)  # the fused kernel's own step count


_FUSED_ADAM: dict[str, bool] = {}


def _fused_adam_works(device: torch.device) -> bool:
    """Whether ``torch._fused_adam_`` runs on ``device`` (CPU needs torch >= 2.4)."""
    if device.type not in _FUSED_ADAM:
        try:
            t = [torch.zeros(1, device=device) for _ in range(4)]
            step = torch.ones((), device=device)
            torch._fused_adam_(
                [t[0]], [t[1]], [t[2]], [t[3]], [], [step], lr=0.1, beta1=0.5, beta2=0.9,
                weight_decay=0.0, eps=1e-8, amsgrad=False, maximize=False,
            )
            _FUSED_ADAM[device.type] = True
        except (AttributeError, NotImplementedError, RuntimeError):
            _FUSED_ADAM[device.type] = False
    return _FUSED_ADAM[device.type]


class FlatRMSprop(_FlatOptimizer):
    """RMSprop with alpha 0.99 (``torch.optim.RMSprop``)."""

    name = "rmsprop"
    buffers = ("square_avg",)

    def __init__(self, net: FlatMLP, lr: float) -> None:
        super().__init__(net, lr)
        self.square_avg = torch.zeros_like(self.params)

    def step(self) -> None:
        g = self.grad
        self.square_avg.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
        avg = self.square_avg.sqrt().add_(RMSPROP_EPS)
        self.params.addcdiv_(g, avg, value=-self.param_groups[0]["lr"])
        self.steps += 1


FLAT_OPTIMIZERS = {cls.name: cls for cls in (FlatSGD, FlatAdam, FlatRMSprop)}


def make_flat_optimizer(name: str, net: FlatMLP, lr: float) -> _FlatOptimizer:
    """The fast engine's optimizer ``name`` over ``net``'s flat parameters."""
    try:
        return FLAT_OPTIMIZERS[name](net, lr)
    except KeyError:
        raise ConfigError(f"unknown optimizer {name!r}; accepted: sgd, adam, rmsprop") from None


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


def _pack(record: tuple) -> torch.Tensor:
    """One iteration's scalars as a STEP_STATS row."""
    loss_d, means, gn_d, loss_g, gn_g = record
    return torch.cat([torch.stack([loss_d, loss_g, gn_g, gn_d]), means])


class _StepGraph:
    """An iteration captured in a CUDA graph and replayed: one launch instead of ~80.

    CUDA only, and UNTESTED on a GPU so far (written on a CPU-only machine;
    tests/test_engine_fast.py has the CUDA checks, skipped without a device).
    Samples are drawn eagerly from the run's generator, exactly as without
    the graph, and copied into the graph's static inputs, so the numbers are
    the eager ones. What a capture bakes in (the config's learning rates, k,
    batch size, loss; the optimizer objects) is its key: a new key runs
    ``WARMUP`` eager iterations on a side stream, then captures again. Any
    failure turns graphs off for the run (a warning says why) and training
    goes on eagerly. ``GANVIZ_CUDA_GRAPH=0`` turns them off.
    """

    WARMUP = 3

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.key = None
        self.graph = None
        self.warm = 0
        self.stream = torch.cuda.Stream(device=engine.device)

    @staticmethod
    def wanted(engine: "Engine") -> bool:
        return (
            engine.device.type == "cuda"
            and os.environ.get("GANVIZ_CUDA_GRAPH", "1") != "0"
            and hasattr(torch.cuda, "CUDAGraph")
        )

    def run(self, draws, z_g) -> torch.Tensor | tuple | None:
        """This iteration's record, trained through the graph; None: train eagerly."""
        e = self.engine
        key = (e.config, e._optimizers_built, e.frozen)
        if key != self.key:
            self.key, self.graph, self.warm = key, None, 0
        try:
            if self.graph is None:
                # Adam's bias correction must come from its device step count.
                if not all(getattr(o, "fused", True) for o in (e.opt_d, e.opt_g)):
                    raise RuntimeError("the optimizer keeps Python state a graph would freeze")
                if self.warm < self.WARMUP:
                    self.warm += 1
                    current = torch.cuda.current_stream(e.device)
                    self.stream.wait_stream(current)
                    with torch.cuda.stream(self.stream):
                        record = e._iteration(draws, z_g)
                    current.wait_stream(self.stream)
                    return record
                self._capture(draws, z_g)
            torch._foreach_copy_(self.inputs, [t for d in draws for t in d if t is not None] + [z_g])
            self.graph.replay()
            return self.packed.clone()
        except Exception as exc:  # noqa: BLE001 - any failure: eager from now on
            import warnings

            warnings.warn(f"CUDA graph disabled for this run ({type(exc).__name__}: {exc}); training eagerly")
            e._graph = None
            return None

    def _capture(self, draws, z_g) -> None:
        e = self.engine
        statics = [tuple(None if t is None else torch.empty_like(t) for t in d) for d in draws]
        z_static = torch.empty_like(z_g)
        self.inputs = [t for d in statics for t in d if t is not None] + [z_static]
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(e.device)
        with torch.cuda.graph(graph):  # records the kernels; runs none of them
            self.packed = _pack(e._iteration(statics, z_static))
        self.graph = graph
