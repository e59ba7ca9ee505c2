"""Whether a requested device exists, asked before a window or a run starts.

torch is imported only when ``cuda`` is asked for: the command line calls this
before the window opens, and the window's process otherwise never loads torch.
"""

from __future__ import annotations

from .config import ConfigError


def check_device(name: str) -> None:
    """Raise ConfigError (one line) when ``name`` is ``"cuda"`` and torch sees no CUDA device.

    ``auto`` and ``cpu`` are always available and cost nothing to check.
    """
    if name != "cuda":
        return
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        raise ConfigError("device 'cuda' requested but torch is not installed") from None
    if not torch.cuda.is_available():
        build = "a CPU-only build of torch" if torch.version.cuda is None else "no CUDA GPU or driver"
        raise ConfigError(f"device 'cuda' requested but torch sees no CUDA device "
                          f"({build}); accepted here: auto, cpu")
