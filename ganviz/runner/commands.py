"""What a run is told: typed commands from the supervisor to the host (no torch, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    """End the current run, if any, and start run ``run_id`` of ``config``.

    ``state`` is an engine state (numpy arrays) to start from; ``paused``,
    ``speed`` and ``frozen`` are what the controls say now; the run ends by
    itself at iteration ``max_steps`` when given.

    A comparison gives ``configs`` (one config dict per member, 2 or more;
    ``config`` is then the base they vary) and optionally ``states`` (one
    engine state per member); its members train in lockstep and their events
    carry their index as ``member``.
    """

    run_id: int
    config: dict
    state: dict | None = None
    reason: str = ""
    paused: bool = False
    speed: float = 0.0
    frozen: tuple = ()
    max_steps: int | None = None
    configs: tuple = ()
    states: tuple = ()


@dataclass(frozen=True)
class Change:
    """Hot config keys, ``speed`` and ``freeze_d``/``freeze_g``: applied at the next step."""

    changes: dict


@dataclass(frozen=True)
class Pause:
    """Stop training after the current step."""


@dataclass(frozen=True)
class Resume:
    """Train on."""


@dataclass(frozen=True)
class Step:
    """While paused: ``n`` iterations, or ``n`` single D (``d``) or G (``g``) updates."""

    n: int = 1
    kind: str = "iteration"


@dataclass(frozen=True)
class RequestState:
    """Hand out the run's exact state between two steps, tagged ``tag``."""

    tag: object


@dataclass(frozen=True)
class RequestSpectrum:
    """Compute the eigenvalues of the run's field Jacobian at its current weights, tagged ``tag``.

    ``k``: eigenvalues wanted on a network too large for the exact method
    (ganviz/core/spectrum.py); ``batch``: its minibatch (None: the run's);
    ``member``: which variant of a comparison (ignored by a single run).
    """

    tag: object
    k: int = 16
    batch: int | None = None
    member: int = 0


@dataclass(frozen=True)
class Quit:
    """End the run and the host."""
