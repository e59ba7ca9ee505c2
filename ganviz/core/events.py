"""What a run tells the world: typed events (no torch, no Qt).

The training loop yields them, the runner stamps and carries them across a
thread or a process, and the window's controller, the command line and the
tests read them. Every event carries the ``run_id`` of the run it belongs to
(the runner's one staleness token: an event of an older run is dropped).
Events that show the run at a moment carry a :class:`Snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .snapshot import Snapshot


@dataclass(frozen=True)
class Event:
    """Base of every event: the run it belongs to.

    ``member`` is the variant's index in a comparison (-1 for a single run);
    keyword-only, so that every event takes it without reordering its fields.
    """

    run_id: int
    member: int = field(default=-1, kw_only=True)


@dataclass(frozen=True)
class Snapshotted(Event):
    """A new picture of the run (on the loop's schedule, or after a single step)."""

    snapshot: Snapshot


@dataclass(frozen=True)
class Started(Event):
    """A run began (its step-0 picture, or the step a session resumes from).

    ``reason`` says why a run replaced another ("" for the first run, e.g.
    "data, hidden changed" for a restart on cold keys, "reset", "session").
    """

    snapshot: Snapshot
    reason: str = ""


@dataclass(frozen=True)
class NotApplied(Event):
    """A parameter change the run refused; it trains on as before."""

    snapshot: Snapshot
    reason: str


@dataclass(frozen=True)
class Diverged(Event):
    """A loss or gradient became non-finite at ``step``: the run paused on sane weights.

    ``quantity`` names what blew up first, ``cause`` the likely reason
    (a learning rate, the gradient-penalty weight, the weights a session
    loaded), ``restored_step`` the step whose weights the run went back to.
    """

    snapshot: Snapshot
    step: int
    quantity: str
    cause: str
    restored_step: int

    @property
    def text(self) -> str:
        return (f"Diverged at step {self.step:,}: {self.quantity} is not finite. "
                f"Paused on the weights of step {self.restored_step:,}. Likely cause: {self.cause}.")


@dataclass(frozen=True)
class Paused(Event):
    """The run paused (on request)."""

    snapshot: Snapshot


@dataclass(frozen=True)
class Resumed(Event):
    """The run resumed training."""


@dataclass(frozen=True)
class Finished(Event):
    """The run reached its last step; ``metrics`` is the final metrics object.

    ``metrics`` holds what a headless run prints: every metric name at the
    last step, ``g_mean``/``g_std``, ``device`` and ``config``.
    """

    snapshot: Snapshot
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stopped(Event):
    """The run ended on request (a restart, a stop, quitting)."""

    snapshot: Snapshot


@dataclass(frozen=True)
class Errored(Event):
    """The run failed with an exception; ``text`` is its last line, ``detail`` the traceback."""

    text: str
    detail: str = ""


@dataclass(frozen=True)
class Notice(Event):
    """Something to tell the user that is not a failure (e.g. training moved to a thread)."""

    text: str


@dataclass(frozen=True)
class Ready(Event):
    """The host is up: the devices its torch can train on (``cpu``, and ``cuda`` if present)."""

    devices: tuple = ("cpu",)


@dataclass(frozen=True)
class Died(Event):
    """The training process ended without saying why (killed, out of memory)."""

    exitcode: int | None


@dataclass(frozen=True)
class StateReady(Event):
    """The run's exact state, answering a request tagged ``tag``.

    ``state`` is an engine state (numpy arrays) at ``step``, taken between two
    steps after every snapshot before it was handed out; None when the run
    has no sane state to give, and ``reason`` says why.
    """

    tag: object
    config: dict | None
    step: int
    state: dict | None
    reason: str = ""


@dataclass(frozen=True)
class SpectrumReady(Event):
    """Eigenvalues of the Jacobian of the run's gradient field at ``step``, answering ``tag``.

    ``eigenvalues`` (m,) complex128 (all, or the k of largest modulus: ``method``
    is ``exact`` or ``arnoldi``), ``consensus`` those of J - gamma J^T J when
    consensus is on (else None), ``n_params`` the size of J, ``batch`` the
    minibatch, ``seconds`` the wall time; ``eigenvalues`` is None and ``reason``
    says why when there is none (ganviz/core/spectrum.py).
    """

    tag: object
    step: int
    eigenvalues: object = None
    consensus: object = None
    method: str = ""
    n_params: int = 0
    batch: int = 0
    seconds: float = 0.0
    reason: str = ""


#: Events that carry a snapshot.
SNAPSHOT_EVENTS = (Snapshotted, Started, NotApplied, Diverged, Paused, Finished, Stopped)
