"""Where a run computes: the torch thread policy and the device."""

from __future__ import annotations

import os

import torch

from ..devices import check_device

#: Intra-op threads a run uses unless ``GANVIZ_THREADS`` says otherwise.
THREADS = 1


def set_threads() -> int:
    """Set torch to one intra-op thread (or ``GANVIZ_THREADS``); returns the count.

    One thread per run, everywhere (headless, the window's worker, the bench):
    these matrices are small, so a second OpenMP thread gains about 5% on a
    quiet machine and loses almost everything when its core is busy (the
    threads spin waiting for each other; docs/performance.md has the
    figures, ``python -m ganviz.bench --load N`` measures them). It also keeps
    the numbers the same wherever a run happens.

    ``GANVIZ_THREADS=N`` is a research knob: N threads change the order of
    floating-point sums, so results differ bit-wise from the one-thread run.

    Returns
    -------
    int
        The intra-op thread count now in force.
    """
    raw = os.environ.get("GANVIZ_THREADS", "").strip()
    try:
        n = int(raw) if raw else THREADS
    except ValueError:
        n = THREADS
    n = max(1, n)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    _one_interop_thread()
    return n


_INTEROP_SET = False


def _one_interop_thread() -> None:
    """One inter-op thread too, where torch still allows it.

    torch refuses a change once parallel work has started (or after a first
    call); training never forks work between ops, so a refusal costs nothing.
    """
    global _INTEROP_SET
    if _INTEROP_SET:
        return
    _INTEROP_SET = True
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when torch sees it, else CPU; ``cuda`` must exist (ConfigError)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    check_device(name)
    return torch.device(name)


def available_devices() -> tuple[str, ...]:
    """The devices a run can train on here: ``cpu``, and ``cuda`` when torch sees one."""
    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)
