"""What both engines share: config, target, models, random stream, counters, stats, state."""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import losses
from ..config import HOT_KEYS, Config, ConfigError
from ..data import make_target
from ..models import SpectralNorm, make_models
from . import rules
from .device import resolve_device
from .state import checked, to_numpy

#: Offset of the spectral-norm vectors' seed from the run's: their own stream.
SN_SEED_OFFSET = 104729

#: Per-iteration scalars, in the order they are stacked on the device.
STEP_STATS = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "d_real", "d_fake")


class _Run:
    """What both engines share: config, target, models, random stream, counters, stats, state."""

    sn: SpectralNorm | None = None  # D's spectral normalisation, when config.spectral_norm
    G_ema = None  # G's moving average, when config.ema > 0
    _d_view = None

    def __init__(self, config: Config) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        self.target = make_target(config.data)
        # Model init uses the global RNG: fork it so a run never disturbs another.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            G, D = make_models(self.target.dim, config.z_dim, config.hidden, config.layers)
        self.G, self.D = G.to(self.device), D.to(self.device)
        self.sn = SpectralNorm(self.D, config.seed + SN_SEED_OFFSET) if config.spectral_norm else None
        self._d_view = None if self.sn is None else self.sn.view()
        self.G_ema = None  # G's moving average, when config.ema > 0 (_set_ema)
        self._previous_step: dict = {}  # the optimistic rule's last step of each player
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
        self._set_ema(config.ema > 0)

    def _init_params(self) -> None:
        """Hook for the fast engine to move the parameters into flat tensors."""

    def _build_optimizers(self) -> None:
        raise NotImplementedError

    def _set_lr(self) -> None:
        betas = (self.config.adam_beta1, self.config.adam_beta2)
        for group in self.opt_d.param_groups:
            group["lr"] = self.config.lr_d
            group["betas"] = betas
        for group in self.opt_g.param_groups:
            group["lr"] = self.config.lr_g
            group["betas"] = betas

    @property
    def betas(self) -> tuple[float, float]:
        """Adam's (beta1, beta2) from the config."""
        return (self.config.adam_beta1, self.config.adam_beta2)

    # --- what is drawn: G's moving average, D normalised --------------------------

    @property
    def G_drawn(self):
        """The generator the views draw and the metrics measure: G's EMA when ``ema`` > 0, else G."""
        return self.G if self.G_ema is None else self.G_ema

    @property
    def D_drawn(self):
        """D as the game sees it: its spectrally normalised view when ``spectral_norm`` is on."""
        return self.D if self.sn is None else self._d_view

    @property
    def note(self) -> str:
        """What the status bar says of the engine ("" for the fast engine at full speed)."""
        return "autograd reference engine"

    def _set_ema(self, on: bool) -> None:
        """Start G's moving average from G's weights now, or drop it."""
        import copy

        if not on:
            self.G_ema = None
        elif self.G_ema is None:
            self.G_ema = copy.deepcopy(self.G)
            for p in self.G_ema.parameters():
                p.requires_grad_(False)
            self._ema_bound()

    def _ema_bound(self) -> None:
        """Hook: the fast engine puts the average's weights in a flat tensor."""

    def _ema_update(self) -> None:
        """ema <- decay * ema + (1 - decay) * G, once per iteration (after G's last update)."""
        if self.G_ema is None or "g" in self.frozen:
            return
        with torch.no_grad():
            torch._foreach_lerp_(self._params("ema"), self._params("g"), 1.0 - self.config.ema)

    # --- the players' weights, as lists of tensors (the update rules move them) ------

    def _params(self, net: str) -> list[torch.Tensor]:
        """The weights of ``net`` ("d", "g" or "ema") as a list of tensors updated in place."""
        if net == "d":
            return self.d_params
        if net == "g":
            return self.g_params
        return list(self.G_ema.parameters())

    def _save(self) -> dict:
        with torch.no_grad():
            return {net: [p.clone() for p in self._params(net)] for net in ("d", "g")}

    def _restore(self, saved: dict) -> None:
        with torch.no_grad():
            for net, copies in saved.items():
                torch._foreach_copy_(self._params(net), copies)

    def _clip(self) -> None:
        """WGAN's weight clipping of D to [-clip, clip] (other losses: nothing)."""
        if losses.get(self.config.loss).clip_weights and "d" not in self.frozen:
            c = self.config.clip
            with torch.no_grad():
                torch._foreach_clamp_min_(self.d_params, -c)
                torch._foreach_clamp_max_(self.d_params, c)

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
            self._previous_step = {}
        else:
            self._set_lr()
        if new.update != old.update:
            self._previous_step = {}  # optimistic starts again with a plain step
        if (new.ema > 0) != (old.ema > 0):
            self._set_ema(new.ema > 0)
        return new

    # --- sampling ----------------------------------------------------------

    def sample_real(self, m: int) -> torch.Tensor:
        """(m, dim) float32 samples of p_data on the device."""
        return self.target.sample(m, self.rng, self.device)

    def sample_z(self, m: int) -> torch.Tensor:
        """(m, z_dim) float32 noise z ~ N(0, I) on the device."""
        return torch.randn(m, self.config.z_dim, generator=self.rng, device=self.device)

    def noise_std(self) -> float:
        """Instance noise's standard deviation this iteration (units of x).

        sigma_t = instance_noise * max(0, 1 - t / instance_noise_anneal) at
        iteration t (the completed ones); constant without annealing.
        """
        c = self.config
        if c.instance_noise == 0:
            return 0.0
        if c.instance_noise_anneal:
            return c.instance_noise * max(0.0, 1.0 - self.step / c.instance_noise_anneal)
        return c.instance_noise

    def _draw_d(self) -> tuple:
        """One D draw: real (m, dim), z (m, z_dim), WGAN-GP's eps (m, 1) or None, and
        instance noise (2m, dim), real rows first, scaled by sigma_t, or None; in this order."""
        m = self.config.batch_size
        with torch.no_grad():
            real, z = self.sample_real(m), self.sample_z(m)
            eps = None
            if losses.get(self.config.loss).gradient_penalty:
                eps = torch.rand(m, 1, generator=self.rng, device=self.device)
            return real, z, eps, self._noise(2 * m)

    def _draw_g(self) -> tuple:
        """One G draw: z (m, z_dim), then instance noise (m, dim) or None."""
        m = self.config.batch_size
        with torch.no_grad():
            return self.sample_z(m), self._noise(m)

    def _noise(self, n: int) -> torch.Tensor | None:
        sigma = self.noise_std()
        if sigma == 0:
            return None
        return torch.randn(n, self.target.dim, generator=self.rng, device=self.device).mul_(sigma)

    # --- Algorithm 1 -------------------------------------------------------

    def d_step(self) -> None:
        """One update of D (the critic) on a fresh minibatch of real and generated samples."""
        rules.d_step(self)
        if "d" not in self.frozen:
            self.d_updates += 1

    def g_step(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One update of G on a fresh noise minibatch; returns (loss_g, grad_norm_g) on the device."""
        out = rules.g_step(self)
        if "g" not in self.frozen:
            self.g_updates += 1
        return out

    # The primitives the update rules (rules.py) are built from; each engine has its own.

    def _d_grad(self, dd: tuple, stats: bool) -> None:
        """D's gradient at the current weights on draw ``dd`` into its store (``stats``: keep scalars)."""
        raise NotImplementedError

    def _g_grad(self, gd: tuple) -> tuple[torch.Tensor, torch.Tensor]:
        """G's gradient on draw ``gd`` into its store; returns (loss_g, grad_norm_g)."""
        raise NotImplementedError

    def _joint_grad(self, dd: tuple, gd: tuple, stats: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """Both players' gradients with consensus; returns (loss_g, grad_norm_g)."""
        raise NotImplementedError

    def _d_apply(self, clip: bool = True) -> None:
        """D's optimizer step on its stored gradient (then WGAN's clipping if ``clip``)."""
        raise NotImplementedError

    def _g_apply(self, clip: bool = True) -> None:
        """G's optimizer step on its stored gradient (``clip`` is D's; unused)."""
        raise NotImplementedError

    def _record(self, loss_g, grad_norm_g):
        """This iteration's per-step scalars, as the engine keeps them until drained."""
        loss_d, d_real, d_fake, gn_d = self._last_d
        return torch.stack([loss_d, loss_g, grad_norm_g, gn_d, d_real, d_fake])

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
        """One iteration of the update rule (rules.py); alternating: k D steps, then one G step."""
        rules.iterate(self)

    def last_finite(self) -> bool:
        """Whether the last iteration's losses and gradient norms are finite.

        A host sync: the loop asks after every iteration on the CPU (a few
        microseconds), and only once per snapshot on CUDA.
        """
        record = self._stats[-1]
        if isinstance(record, torch.Tensor):  # a packed STEP_STATS row
            total = record[:4].sum()
        else:  # the fast engine's eager record: (loss_d, means, gn_d, loss_g, gn_g)
            total = record[0] + record[2] + record[3] + record[4]
        return math.isfinite(float(total))

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
        """Weights of G and D as numpy (CPU copies), for a checkpoint or a session file.

        ``full`` adds what an exact resume needs: the optimizers' state (where
        the engine keeps it: the fast engine's flat buffers), the random
        stream, the step counters and which networks are frozen. Training on
        from a full state gives the same numbers as training on without
        stopping. The layout is :mod:`ganviz.core.trainer.state`'s; no torch
        is needed to hold it.

        Returns
        -------
        dict
            ``G``, ``D``: {name: array} in the networks' dtype (float32 in
            the app); with ``full`` also ``optim`` ({"name", "D", "G"}, each
            {"steps": int, "buffers": {name: (n,) array}}), ``rng``
            ({"device": str, "state": (k,) uint8}), ``counters`` (ints) and
            ``frozen`` (a sorted list). With ``ema`` on, ``G_ema`` (G's
            moving average, as G); with ``spectral_norm`` and ``full``, ``sn``
            ({"u": [(out,) array per layer], "v": [(in,) array per layer]}).
        """
        nets = (("G", self.G), ("D", self.D)) + ((("G_ema", self.G_ema),) if self.G_ema else ())
        state = {name: {k: to_numpy(v) for k, v in net.state_dict().items()} for name, net in nets}
        if full and self.sn is not None:
            state["sn"] = {"u": [to_numpy(u) for u in self.sn.u], "v": [to_numpy(v) for v in self.sn.v]}
        if full:
            optim = self._optimizer_state()
            if optim is not None:
                state["optim"] = {"name": self.config.optimizer, **{
                    net: {"steps": int(part["steps"]),
                          "buffers": {k: to_numpy(v) for k, v in part["buffers"].items()}}
                    for net, part in optim.items()}}
            state["rng"] = {"device": self.device.type, "state": to_numpy(self.rng.get_state())}
            state["counters"] = {"step": int(self.step), "d_updates": int(self.d_updates),
                                 "g_updates": int(self.g_updates)}
            state["frozen"] = sorted(self.frozen)
        return state

    def load_state(self, state: dict) -> None:
        """Restore a state saved by :meth:`state` (numpy arrays, or torch tensors).

        Everything is validated first: on a wrong part this raises ValueError
        naming it and what was expected, and the run is left as it was.
        Without its optional parts the optimizers start afresh and the random
        stream and counters go on; optimizer buffers of another optimizer and
        a stream of another device type are valid but start afresh too.
        """
        parts = checked(state, {"G": self.G, "D": self.D}, self.config.optimizer, self.device.type)
        with torch.no_grad():
            for net, module in (("G", self.G), ("D", self.D)):
                module.load_state_dict({k: torch.from_numpy(np.array(v, copy=True))
                                        for k, v in parts[net].items()})
        self._build_optimizers()
        if "optim" in parts:
            self._load_optimizer_state({
                net: {"steps": parts["optim"][net]["steps"],
                      "buffers": {k: torch.from_numpy(np.array(v, copy=True))
                                  for k, v in parts["optim"][net]["buffers"].items()}}
                for net in ("D", "G")})
        if "rng" in parts:
            self.rng.set_state(torch.from_numpy(parts["rng"]["state"].copy()))
        if "counters" in parts:
            self.step, self.d_updates, self.g_updates = (
                parts["counters"][k] for k in ("step", "d_updates", "g_updates"))
        if "frozen" in parts:
            self.frozen = frozenset(parts["frozen"])
        self._previous_step = {}
        if self.G_ema is not None:  # the saved average, or a new one from the loaded G
            self.G_ema = None
            self._set_ema(True)
            if "G_ema" in parts:
                self.G_ema.load_state_dict({k: torch.from_numpy(np.array(v, copy=True))
                                            for k, v in parts["G_ema"].items()})
        if self.sn is not None and "sn" in parts:
            self.sn.u = [torch.from_numpy(np.array(u, copy=True)).to(self.device) for u in parts["sn"]["u"]]
            self.sn.v = [torch.from_numpy(np.array(v, copy=True)).to(self.device) for v in parts["sn"]["v"]]

    def _optimizer_state(self) -> dict | None:
        """{"D": ..., "G": ...} optimizer state for :meth:`state`; None if not kept."""
        return None

    def _load_optimizer_state(self, optim: dict) -> None:
        """Restore what :meth:`_optimizer_state` gave."""

