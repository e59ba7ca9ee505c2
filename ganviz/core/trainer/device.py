"""Where a run computes: the torch thread policy and the device."""

from __future__ import annotations

import os

import torch

from ..config import ConfigError

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

