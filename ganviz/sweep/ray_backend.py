"""Running a sweep's batches through Ray Tune: a local Ray instance, or a lab's cluster.

ganviz expands, validates and records the sweep itself (the same rows in the
same order as the local backend, so results.csv, resume and the picture are
one thing whatever ran the rows); Ray schedules the batches. The Tuner's
search space is a grid over the batches, and each trial runs one batch (all
the seeds of a config) with :func:`ganviz.sweep.local.run_rows`, so Ray's
per-trial overhead is paid once per config, and each row is still the single
headless run bit for bit. Rows come back through Tune's results to the driver,
which appends them to results.csv as each trial finishes.

The cluster is ``--address`` or RAY_ADDRESS (``ray://head:10001`` or
``head:6379``); without either a local instance is started with one CPU per
job. On a cluster every node must have ganviz installed (the same version);
on a local instance the workers import the driver's own ganviz.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from .spec import Row, SweepError

INSTALL = 'pip install "ganviz[sweep]" (from a checkout: pip install -e ".[sweep]")'


def check_ray() -> None:
    """SweepError naming the install command when Ray Tune cannot be imported."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except ImportError as exc:
        raise SweepError(f"--backend ray needs Ray Tune, which is not installed ({exc.name or exc}); "
                         f"install it with {INSTALL}") from None


#: Seconds to wait for a cluster's port to answer: ray.init itself retries for minutes.
CONNECT_TIMEOUT_S = 10.0


def _check_reachable(address: str) -> None:
    """SweepError at once when ``HOST:PORT`` (or ``ray://HOST:PORT``) does not accept a connection.

    "auto" and "local" are Ray's own words for this machine's instance; they pass.
    """
    import socket

    if address in ("auto", "local"):
        return
    rest = address.split("://", 1)[-1]
    host, _, port = rest.rpartition(":")
    accepted = "accepted: --address HOST:PORT (the head's GCS, 6379) or ray://HOST:10001"
    if not host or not port.isdigit():
        raise SweepError(f"--address {address!r} is not HOST:PORT; {accepted}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise SweepError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
                         f"is it running? {accepted}") from None


def _trial(config: dict, batches: list, steps: int, every: int) -> None:
    """One Tune trial: one batch of rows, reported as JSON text (kept whole by Tune)."""
    from ray import tune

    from .local import run_rows

    records = run_rows(batches[config["batch"]], steps, every)
    tune.report({"rows": json.dumps(records), "done": 1})


def run_ray(batches: list[list[Row]], steps: int, every: int, address: str | None = None,
            jobs: int = 1) -> Iterator[list[dict]]:
    """Yield each batch's records as its trial finishes.

    Raises SweepError when Ray is missing, the cluster cannot be reached, or a
    trial failed (the rows already yielded are kept by the caller).
    """
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # verbose=0 then prints nothing: the bar is ours
    check_ray()
    import ray
    from ray import tune

    address = address or os.environ.get("RAY_ADDRESS") or None
    started = not ray.is_initialized()
    if started:
        kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                      configure_logging=False)
        if address is None:  # a local instance whose workers import this very ganviz
            root = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
            kwargs.update(num_cpus=jobs, runtime_env={"env_vars": {
                "PYTHONPATH": path, "GANVIZ_THREADS": "1", "OMP_NUM_THREADS": "1"}})
        if address is not None:
            _check_reachable(address)
        try:
            ray.init(address=address, **kwargs)
        except Exception as exc:  # ConnectionError, RuntimeError, ValueError, by version
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SweepError(f"cannot reach {where}: {text}; accepted: --address HOST:PORT or "
                             "ray://HOST:10001 of a running cluster (or none for a local "
                             "instance)") from None
    done: queue.Queue = queue.Queue()
    gather = _gatherer(tune, done)
    storage = tempfile.mkdtemp(prefix="ganviz-ray-")
    trainable = tune.with_resources(
        tune.with_parameters(_trial, batches=batches, steps=steps, every=every), {"cpu": 1})
    tuner = tune.Tuner(
        trainable,
        param_space={"batch": tune.grid_search(list(range(len(batches))))},
        tune_config=tune.TuneConfig(reuse_actors=True),
        run_config=tune.RunConfig(name="ganviz-sweep", storage_path=storage, verbose=0,
                                  callbacks=[gather], log_to_file=False),
    )
    box: dict = {}

    def fit() -> None:
        try:
            box["grid"] = tuner.fit()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.put(None)

    thread = threading.Thread(target=fit, name="ray-tune-fit", daemon=True)
    thread.start()
    try:
        while True:
            item = done.get()
            if item is None:
                break
            yield item
        thread.join()
        if "error" in box:
            raise SweepError(f"Ray Tune failed: {box['error']}")
        errors = [r.error for r in box["grid"] if r.error is not None]
        if errors:
            first = str(errors[0]).strip().splitlines()
            raise SweepError(f"{len(errors)} Ray trial(s) failed; the first: "
                             f"{first[-1] if first else type(errors[0]).__name__}")
    finally:
        if thread.is_alive():  # interrupted: stop the trials, then the instance
            try:
                ray.shutdown()
            finally:
                started = False
            thread.join(timeout=30)
        if started:
            ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
        _QUEUES.pop(id(done), None)


#: The driver's queues by token: Tune pickles its callbacks, and a queue does not pickle.
_QUEUES: dict[int, queue.Queue] = {}


def _gatherer(tune, done: queue.Queue):
    """A Tune callback (in the driver) that hands each finished trial's rows to the sweep."""
    token = id(done)
    _QUEUES[token] = done

    class Gather(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if "rows" in result:
                _hand_over(token, result["rows"])

    return Gather()


def _hand_over(token: int, rows: str) -> None:
    # Module-level, so the pickled callback refers to it by name and not to the queues.
    target = _QUEUES.get(token)
    if target is not None:
        target.put(json.loads(rows))
