"""The training loop, driven step by step: events, schedules, the inbox, divergence.

The loop is a generator, so these tests drive it directly, with no thread
and no clock: they put commands in the inbox between two events, as the
runner's thread does between two steps.
"""

import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.core.events import (
    Diverged, Finished, NotApplied, Paused, Resumed, Snapshotted, Started, Stopped,
)
from ganviz.core.loop import DivergencePolicy, Inbox, Schedule, likely_cause, train

FAST = Config(data="bimodal", hidden=16, batch_size=32)
EVERY_10 = Schedule.every_steps(10, measure="off")


def test_a_run_starts_snapshots_on_its_schedule_and_finishes():
    events = list(train(FAST, schedule=EVERY_10, max_steps=35))
    assert isinstance(events[0], Started) and events[0].snapshot.step == 0
    assert [e.snapshot.step for e in events[1:-1]] == [10, 20, 30, 35]
    assert all(isinstance(e, Snapshotted) for e in events[1:-1])
    assert isinstance(events[-1], Finished) and events[-1].snapshot.step == 35
    steps = np.concatenate([e.snapshot.history["step"] for e in events])
    np.testing.assert_array_equal(steps, np.arange(1, 36))  # every step once


def test_the_final_metrics_have_every_name_and_the_last_step_values():
    events = list(train(FAST, schedule=Schedule.every_steps(20), max_steps=40))
    final = events[-1]
    assert isinstance(final, Finished)
    m = final.metrics
    assert m["step"] == 40 and m["config"] == FAST.to_dict() and m["device"] == "cpu"
    assert m["loss_d"] == events[-2].snapshot.history["loss_d"][-1]
    assert 0 <= m["js"] <= np.log(2) + 1e-9 and m["modes_total"] == 2
    assert len(m["g_mean"]) == 1 and m["g_std"][0] > 0


def test_the_schedule_does_not_change_the_numbers():
    """Snapshots and measurements never touch the training stream."""
    a = list(train(FAST, schedule=Schedule.every_steps(7, measure="always"), max_steps=30))
    b = list(train(FAST, schedule=Schedule.every_steps(30, measure="off"), max_steps=30))
    loss = lambda events: np.concatenate([e.snapshot.history["loss_d"] for e in events])  # noqa: E731
    np.testing.assert_array_equal(loss(a), loss(b))


def test_snapshots_are_numpy_and_read_only():
    snap = next(iter(train(FAST, schedule=EVERY_10, max_steps=1))).snapshot
    assert isinstance(snap.p_data, np.ndarray) or snap.p_data is None
    with pytest.raises(AttributeError):
        snap.step = 5


def test_pause_single_steps_resume_and_stop():
    inbox = Inbox()
    run = train(FAST, inbox, schedule=EVERY_10)
    next(run), next(run)  # started, step 10
    inbox.pause()
    paused = next(run)
    assert isinstance(paused, Paused) and paused.snapshot.step == 10
    inbox.request_steps(3)
    stepped = next(run)
    assert isinstance(stepped, Snapshotted) and stepped.snapshot.step == 13
    assert stepped.snapshot.d_updates == 13 * FAST.k
    inbox.resume()
    assert isinstance(next(run), Resumed)
    assert next(run).snapshot.step == 20  # back on the schedule
    inbox.stop()
    last = next(run)
    assert isinstance(last, Stopped)
    with pytest.raises(StopIteration):
        next(run)


def test_hot_change_reaches_the_engine_at_the_next_step():
    inbox = Inbox()
    run = train(FAST, inbox, schedule=EVERY_10)
    next(run), next(run)
    inbox.put({"lr_d": 0.0123, "k": 3, "loss": "hinge"})
    snap = next(run).snapshot
    assert snap.config["lr_d"] == 0.0123 and snap.config["k"] == 3 and snap.run_id == 0
    assert snap.d_updates == 10 * 1 + 10 * 3  # k = 3 from step 11 on
    inbox.stop()
    list(run)


@pytest.mark.parametrize("changes, words", [({"k": 0}, "k"), ({"seed": 9}, "restart"),
                                            ({"data": "ring8"}, "restart")])
def test_refused_changes_are_said_and_training_goes_on(changes, words):
    inbox = Inbox()
    run = train(FAST, inbox, schedule=EVERY_10)
    next(run), next(run)
    inbox.put(changes)
    refused = next(run)
    assert isinstance(refused, NotApplied) and words in refused.reason
    assert refused.snapshot.config == FAST.to_dict()
    assert next(run).snapshot.step == 20
    inbox.stop()
    list(run)


def test_single_d_and_g_steps_change_only_their_network():
    inbox = Inbox()
    inbox.pause()
    run = train(FAST, inbox, schedule=Schedule.every_steps(10))
    base = next(run).snapshot
    assert isinstance(next(run), Paused)
    inbox.request_steps(2, kind="d")
    snap = next(run).snapshot
    assert snap.d_updates == base.d_updates + 2 and snap.g_updates == base.g_updates
    assert snap.step == base.step
    assert not np.array_equal(snap.d, base.d)  # D moved: its heatmap changed
    np.testing.assert_array_equal(snap.fake, base.fake)  # G did not
    inbox.request_steps(1, kind="g")
    after = next(run).snapshot
    assert after.g_updates == base.g_updates + 1 and after.d_updates == snap.d_updates
    assert not np.array_equal(after.fake, snap.fake)
    np.testing.assert_array_equal(after.d, snap.d)
    with pytest.raises(ValueError, match="iteration"):
        inbox.request_steps(1, kind="x")
    inbox.stop()
    list(run)


def test_a_call_runs_between_steps_after_the_steps_before_it_were_shown():
    inbox = Inbox()
    run = train(FAST, inbox, schedule=Schedule.every_steps(1000, measure="off"))
    next(run)
    seen = []

    def first(engine):  # runs at once (nothing unshown), then asks again mid-chunk
        seen.append(engine.step)
        inbox.call(lambda e: seen.append(e.step))

    inbox.call(first)
    shown = next(run)  # the step trained since comes out before the second call runs
    assert isinstance(shown, Snapshotted) and shown.snapshot.step == 1 and seen == [0]
    inbox.stop()
    list(run)
    assert seen == [0, 1]


UNSTABLE = Config(data="gaussian", hidden=16, batch_size=32, optimizer="sgd", lr_d=1e6, lr_g=1e6)


@pytest.mark.parametrize("every", [1, 25])
def test_divergence_pauses_on_sane_weights_and_a_lower_rate_trains_on(every):
    """Also when every step is a snapshot: the fallback is never a blown-up state."""
    inbox = Inbox()
    run = train(UNSTABLE, inbox, schedule=Schedule.every_steps(every, measure="off"))
    event = next(e for e in run if isinstance(e, Diverged))
    assert inbox.paused
    bad = event.snapshot.history
    assert bad["step"][-1] == event.step  # nothing past the divergence is a result
    assert not np.isfinite([bad[k][-1] for k in ("loss_d", "grad_norm_d", "loss_g")]).all()
    key = "lr_d" if event.quantity in ("loss_d", "grad_norm_d", "d_real", "d_fake") else "lr_g"
    assert f"{key} = 1e+06" in event.cause and event.restored_step < event.step
    assert "Diverged at step" in event.text
    inbox.put({"lr": 1e-3})
    inbox.resume()
    later = []
    for e in run:
        if isinstance(e, Snapshotted):
            later.append(e.snapshot)
            if e.snapshot.step >= event.step + 50:
                break
        assert not isinstance(e, Diverged)
    steps = np.concatenate([s.history["step"] for s in later])
    assert steps[0] == event.step + 1  # the counters go on; the weights went back
    assert all(np.isfinite(s.history["loss_d"]).all() for s in later)
    inbox.stop()
    list(run)


def test_divergence_with_the_stop_policy_ends_the_run():
    events = list(train(UNSTABLE, schedule=Schedule.every_steps(100, measure="off"),
                        policy=DivergencePolicy(on_divergence="stop"), max_steps=1000))
    assert isinstance(events[-1], Diverged) and events[-1].step < 100


def test_likely_causes():
    ok = Config()
    assert "lr_g" in likely_cause(ok, "grad_norm_g", None)
    assert "lr_d" in likely_cause(ok, "loss_d", None)
    assert "session" in likely_cause(ok, "loss_d", 3)
    assert "gp_weight" in likely_cause(Config(loss="wgan-gp", gp_weight=1e4), "loss_d", None)


def test_freeze_keeps_a_network_fixed_and_is_shown():
    inbox = Inbox()
    run = train(FAST, inbox, schedule=EVERY_10)
    next(run), next(run)
    inbox.put({"freeze_d": True})
    snap = next(run).snapshot
    assert snap.frozen == ("d",) and snap.d_updates == 10
    inbox.stop()
    list(run)


def test_slow_motion_shows_every_iteration():
    inbox = Inbox()
    run = train(FAST, inbox, schedule=Schedule(seconds=10.0, measure="off"), speed=1000.0)
    next(run)
    assert [next(run).snapshot.step for _ in range(5)] == [1, 2, 3, 4, 5]
    inbox.stop()
    list(run)


def test_schedules_refuse_nonsense():
    with pytest.raises(ValueError):
        Schedule(seconds=0.1, steps=10)
    with pytest.raises(ValueError):
        Schedule.every_steps(0)


def test_a_view_sent_to_a_paused_run_is_drawn_at_once():
    inbox = Inbox()
    inbox.pause()
    run = train(FAST, inbox, schedule=Schedule.every_steps(10))
    base = next(run).snapshot
    assert isinstance(next(run), Paused)
    inbox.put({"view": ((-9.0, 9.0),)})
    snap = next(run).snapshot
    assert isinstance(snap, type(base)) and snap.step == base.step
    assert (snap.xs[0], snap.xs[-1]) == (-9.0, 9.0) and len(snap.xs) == len(base.xs)
    assert snap.metrics["js"] == base.metrics["js"]  # only the drawing follows the view
    inbox.stop()
    list(run)
