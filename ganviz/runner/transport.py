"""How commands reach a host and its events come back: a thread, or a child process.

:class:`ThreadTransport` runs the host in a thread of this process.
:class:`ProcessTransport` runs it in a child process started with ``spawn``,
so that torch never competes with the window for the GIL: commands go down a
pipe, events come up another, and :class:`Slimmer` leaves out the heavy
snapshot arrays that did not change since the previous event
(:class:`Fattener` puts them back). A child that ends without saying goodbye
(killed, out of memory) is reported as :class:`~ganviz.core.events.Died`.
Both deliver events by calling ``emit`` from a background thread.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
import traceback
from typing import Any, Callable

from ganviz.core.events import Died, Errored, Event
from ganviz.core.loop import Schedule

from .commands import Quit

#: Snapshot fields that change only on a heavy refresh or a new run (sent when changed).
HEAVY_FIELDS = (
    "xs", "ys", "p_data", "p_g", "d", "d_star", "real", "z", "mode_centres", "mode_counts",
)
#: Stands for a heavy field left out because the receiver already has it.
_UNCHANGED = "<unchanged>"
#: The child's last message: it ended in order.
_GOODBYE = "goodbye"


class Slimmer:
    """Leaves unchanged heavy arrays out of the snapshots of events (the sending side)."""

    def __init__(self) -> None:
        self._sent: dict[str, Any] = {}

    def __call__(self, event: Event) -> Event:
        snap = getattr(event, "snapshot", None)
        if snap is None:
            return event
        same = {}
        for name in HEAVY_FIELDS:
            value = getattr(snap, name)
            key = (event.member, name)  # a comparison's members each have their own
            # The probe hands out the same array object until it measures again.
            if key in self._sent and self._sent[key] is value:
                same[name] = _UNCHANGED
            else:
                self._sent[key] = value
        if not same:
            return event
        return dataclasses.replace(event, snapshot=dataclasses.replace(snap, **same))


class Fattener:
    """Puts the heavy arrays :class:`Slimmer` left out back (the receiving side)."""

    def __init__(self) -> None:
        self._have: dict[str, Any] = {}

    def __call__(self, event: Event) -> Event:
        snap = getattr(event, "snapshot", None)
        if snap is None:
            return event
        missing = {}
        for name in HEAVY_FIELDS:
            value = getattr(snap, name)
            key = (event.member, name)
            if isinstance(value, str) and value == _UNCHANGED:
                missing[name] = self._have.get(key)
            else:
                self._have[key] = value
        if not missing:
            return event
        return dataclasses.replace(event, snapshot=dataclasses.replace(snap, **missing))


class ThreadTransport:
    """A host in a thread of this process (tests, and a fallback where spawning fails)."""

    def __init__(self, emit: Callable[[Event], None], schedule: Schedule) -> None:
        from .host import Host

        self._host = Host(emit, schedule)
        self._thread = threading.Thread(target=self._host.run, name="ganviz-train", daemon=True)
        self._thread.start()

    def send(self, cmd) -> None:
        self._host.command(cmd)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float) -> bool:
        """Quit the host; True when its thread ended within ``timeout`` seconds.

        A thread inside a long step is left to finish it on its own (a daemon
        thread: it never holds the process open and is never killed midway).
        """
        self._host.command(Quit())
        self._thread.join(timeout)
        return not self._thread.is_alive()


class ProcessTransport:
    """A host in a child process, with a reader thread that turns its messages into events.

    Raises OSError (or another exception of ``multiprocessing``) when no
    process can be started here.
    """

    def __init__(self, emit: Callable[[Event], None], schedule: Schedule) -> None:
        ctx = multiprocessing.get_context("spawn")
        # Pipes, not queues: sends are synchronous, so a message is never cut short by a
        # process that exits; and once each side holds only its own ends, a dead peer
        # reads as EOF instead of a read that waits for ever.
        cmd_recv, self._cmd = ctx.Pipe(duplex=False)
        self._events, ev_send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=child_main, args=(cmd_recv, ev_send, schedule),
                                    name="ganviz-train", daemon=True)
        try:
            self._process.start()
        finally:
            cmd_recv.close()
            ev_send.close()
        self._emit = emit
        self._lock = threading.Lock()
        self._closing = False
        self._reader = threading.Thread(target=self._read, name="ganviz-events", daemon=True)
        self._reader.start()

    def send(self, cmd) -> None:
        """Send a command; a dead child is reported by the reader, not here."""
        with self._lock:
            try:
                self._cmd.send(cmd)
            except (OSError, EOFError, ValueError):
                pass

    @property
    def alive(self) -> bool:
        return self._process.is_alive() and self._reader.is_alive()

    def _read(self) -> None:
        fatten = Fattener()
        while True:
            try:
                message = self._events.recv()
            except (EOFError, OSError):
                if not self._closing:
                    self._process.join(0.5)
                    self._emit(Died(-1, self._process.exitcode))
                return
            if isinstance(message, str) and message == _GOODBYE:
                return
            self._emit(fatten(message))

    def close(self, timeout: float) -> bool:
        """Quit the child, wait up to ``timeout`` seconds, then kill it; True when it ended in order."""
        self._closing = True
        self.send(Quit())
        self._process.join(timeout)
        ok = not self._process.is_alive()
        if not ok:
            self._process.kill()  # a process, not a thread: it holds nothing of ours
            self._process.join(1.0)
        self._reader.join(1.0)
        with self._lock:
            self._cmd.close()
        self._events.close()
        return ok


def child_main(commands, events, schedule: Schedule) -> None:
    """Entry point of the training process: commands from a pipe, slim events to a pipe.

    A closed pipe on either side means the window is gone: stop.
    """
    from .host import Host

    lock = threading.Lock()  # the host's thread and the command thread both send
    slim = Slimmer()
    host = None

    def send(message) -> None:
        try:
            with lock:
                events.send(message)
        except (BrokenPipeError, EOFError, OSError):
            if host is not None:
                host.command(Quit())

    try:
        host = Host(lambda event: send(slim(event)), schedule)
    except Exception as exc:
        send(Errored(-1, str(exc), traceback.format_exc()))
        send(_GOODBYE)
        return

    def forward() -> None:
        while True:
            try:
                cmd = commands.recv()
            except (EOFError, OSError):
                host.command(Quit())  # the window is gone: do not train on alone
                return
            try:
                host.command(cmd)
            except Exception as exc:
                send(Errored(-1, str(exc), traceback.format_exc()))
            if isinstance(cmd, Quit):
                return

    threading.Thread(target=forward, name="ganviz-commands", daemon=True).start()
    host.run()
    send(_GOODBYE)
