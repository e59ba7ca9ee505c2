"""The fast engine's optimizers: one flat parameter tensor, the torch.optim update in a few ops."""

from __future__ import annotations

import torch

from ..config import OPTIMIZER_BUFFERS, SGD_MOMENTUM, ConfigError
from ..models import FlatMLP

#: Optimizer hyper-parameters besides the learning rate (shared by both engines).
#: SGD_MOMENTUM (0.9, as in the paper) is config's: the toy games read it too, without torch.
ADAM_BETAS = (0.5, 0.999)  # as in DCGAN: the defaults of config keys adam_beta1, adam_beta2
ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99
RMSPROP_EPS = 1e-8


class _FlatOptimizer:
    """An optimizer over one flat parameter tensor and its flat gradient.

    The same update as ``torch.optim``'s single-tensor implementation (the
    same formulas in the same order, so results agree to rounding), in a few
    ops on the whole network at once. ``param_groups[0]["lr"]`` is read at
    every step, as in ``torch.optim``.
    """

    name = ""
    #: The names of the running buffers (each shaped like the flat parameters),
    #: from config.OPTIMIZER_BUFFERS.
    buffers: tuple[str, ...] = ()

    def __init__(self, net: FlatMLP, lr: float, betas: tuple[float, float] = ADAM_BETAS) -> None:
        self.params, self.grad = net.params, net.grad
        # betas: Adam's; the other optimizers keep them unused, as a group of torch.optim would not
        self.param_groups = [{"lr": lr, "betas": tuple(betas)}]
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
    buffers = OPTIMIZER_BUFFERS["sgd"]

    def __init__(self, net: FlatMLP, lr: float, betas: tuple[float, float] = ADAM_BETAS) -> None:
        super().__init__(net, lr, betas)
        self.buf = torch.zeros_like(self.params)

    def step(self) -> None:
        # The first step leaves buf = grad exactly, as torch's clone does.
        self.buf.mul_(SGD_MOMENTUM).add_(self.grad)
        self.params.add_(self.buf, alpha=-self.param_groups[0]["lr"])
        self.steps += 1


class FlatAdam(_FlatOptimizer):
    """Adam with betas ``param_groups[0]["betas"]``, read at every step (``torch.optim.Adam``).

    Uses torch's fused Adam kernel (one op for the whole network, the same
    kernel as ``torch.optim.Adam(fused=True)``) where this torch has it for
    the device, else the single-tensor formulas (7 ops).
    """

    name = "adam"
    buffers = OPTIMIZER_BUFFERS["adam"]

    def __init__(self, net: FlatMLP, lr: float, betas: tuple[float, float] = ADAM_BETAS) -> None:
        super().__init__(net, lr, betas)
        self.exp_avg = torch.zeros_like(self.params)
        self.exp_avg_sq = torch.zeros_like(self.params)
        self.fused = _fused_adam_works(self.params.device)
        if self.fused:
            self._step_t = torch.zeros((), dtype=torch.float32, device=self.params.device)
            self._lists = ([self.params], [self.grad], [self.exp_avg], [self.exp_avg_sq], [], [self._step_t])

    def step(self) -> None:
        b1, b2 = self.param_groups[0]["betas"]
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
    buffers = OPTIMIZER_BUFFERS["rmsprop"]

    def __init__(self, net: FlatMLP, lr: float, betas: tuple[float, float] = ADAM_BETAS) -> None:
        super().__init__(net, lr, betas)
        self.square_avg = torch.zeros_like(self.params)

    def step(self) -> None:
        g = self.grad
        self.square_avg.mul_(RMSPROP_ALPHA).addcmul_(g, g, value=1 - RMSPROP_ALPHA)
        avg = self.square_avg.sqrt().add_(RMSPROP_EPS)
        self.params.addcdiv_(g, avg, value=-self.param_groups[0]["lr"])
        self.steps += 1


FLAT_OPTIMIZERS = {cls.name: cls for cls in (FlatSGD, FlatAdam, FlatRMSprop)}


def make_flat_optimizer(name: str, net: FlatMLP, lr: float,
                        betas: tuple[float, float] = ADAM_BETAS) -> _FlatOptimizer:
    """The fast engine's optimizer ``name`` over ``net``'s flat parameters (``betas``: Adam's)."""
    try:
        return FLAT_OPTIMIZERS[name](net, lr, betas)
    except KeyError:
        raise ConfigError(f"unknown optimizer {name!r}; accepted: sgd, adam, rmsprop") from None

