"""One training run: Algorithm 1 of Goodfellow et al. 2014 with k D steps per G step, or another update rule.

Two implementations of the same run, with the same random stream, give the
same numbers (tests/test_trainer_fast.py checks it for every loss, optimizer
and k):

- :class:`ReferenceEngine` (:mod:`.reference`) is the straightforward one:
  ``nn.Module`` forward passes, autograd, ``torch.optim``. It is the
  specification.
- :class:`Engine` (:mod:`.fast`) is the fast one the app runs. For these tiny
  MLPs a step's time is mostly per-op overhead, so it does the same maths in
  far fewer ops: each network's parameters and gradients live in one flat
  tensor (:class:`~ganviz.core.models.FlatMLP`), the forward and backward
  passes are written out by hand (a dozen matrix products, no autograd graph;
  WGAN-GP's double backward too), the loss gradients are the closed forms of
  the loss registry (:mod:`ganviz.core.losses`), and each optimizer step is a
  few ops on the flat tensors (:mod:`.flat`). On CUDA an iteration can be
  replayed from a captured graph (:mod:`.cudagraph`). docs/performance.md has
  what each change gave.

What both share (config, target, models, random stream, counters, state)
lives in :mod:`.run`; the update rules (alternating, simultaneous,
extragradient, optimistic), built from each engine's gradient and optimizer
steps, in :mod:`.rules`; every regulariser's objective, written with
torch.autograd (the reference engine's gradients, and the fast engine's for
consensus and spectral normalisation), in :mod:`.autograd`
(docs/dynamics-options.md); the thread policy and the device in :mod:`.device`.
Per-step scalars stay on the device; ``drain()`` reads them back in one
transfer, once per snapshot, so training never waits on a host sync.
"""

from .device import available_devices, resolve_device, set_threads
from .fast import Engine
from .flat import (
    ADAM_BETAS,
    ADAM_EPS,
    FLAT_OPTIMIZERS,
    RMSPROP_ALPHA,
    RMSPROP_EPS,
    SGD_MOMENTUM,
    FlatAdam,
    FlatRMSprop,
    FlatSGD,
    make_flat_optimizer,
)
from .reference import ReferenceEngine, make_optimizer
from .run import STEP_STATS

__all__ = [
    "ADAM_BETAS", "ADAM_EPS", "FLAT_OPTIMIZERS", "RMSPROP_ALPHA", "RMSPROP_EPS", "SGD_MOMENTUM",
    "STEP_STATS", "Engine", "FlatAdam", "FlatRMSprop", "FlatSGD", "ReferenceEngine",
    "available_devices", "make_flat_optimizer", "make_optimizer", "resolve_device", "set_threads",
]
