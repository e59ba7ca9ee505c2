"""What both engines share: config, target, models, random stream, counters, stats, state."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..config import HOT_KEYS, Config, ConfigError, check_mlp_support
from ..data import make_target
from ..models import make_models
from .device import resolve_device
from .state import checked, to_numpy

#: Per-iteration scalars, in the order they are stacked on the device.
STEP_STATS = ("loss_d", "loss_g", "grad_norm_g", "grad_norm_d", "d_real", "d_fake")


class _Run:
    """What both engines share: config, target, models, random stream, counters, stats, state."""

    def __init__(self, config: Config) -> None:
        check_mlp_support(config)  # never a silently different algorithm
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
            ``frozen`` (a sorted list).
        """
        state = {
            name: {k: to_numpy(v) for k, v in net.state_dict().items()}
            for name, net in (("G", self.G), ("D", self.D))
        }
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

    def _optimizer_state(self) -> dict | None:
        """{"D": ..., "G": ...} optimizer state for :meth:`state`; None if not kept."""
        return None

    def _load_optimizer_state(self, optim: dict) -> None:
        """Restore what :meth:`_optimizer_state` gave."""

