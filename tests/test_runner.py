"""The runner without Qt: a supervisor drives runs in a thread or a child process.

Every supervisor a test starts is stopped in the fixture's teardown, whatever
the test did. Waits end on an event, with a generous limit that only a broken
runner reaches.
"""

import dataclasses

import numpy as np
import pytest

from ganviz.core.config import Config, ConfigError
from ganviz.core.events import (
    Died, Diverged, Errored, Finished, NotApplied, Paused, Ready, Snapshotted, SpectrumReady,
    Started, StateReady,
)
from ganviz.core.loop import Schedule
from ganviz.runner.fixed import run_fixed
from ganviz.runner.supervisor import Supervisor
from ganviz.runner.transport import Fattener, Slimmer

SMALL = Config(data="gaussian", z_dim=1, hidden=16, batch_size=64)
LIMIT = 60.0


@pytest.fixture
def supervise():
    made = []

    def make(config=SMALL, mode="thread", **kw):
        kw.setdefault("schedule", Schedule.every_steps(10, measure="off"))
        sup = Supervisor(config, mode, **kw)
        made.append(sup)
        return sup

    yield make
    for sup in made:
        sup.stop(2.0)
        assert sup._transport is None


def _until(sup, kind, where=lambda e: True):
    for event in sup.events(lambda e: isinstance(e, kind) and where(e), timeout=LIMIT):
        if isinstance(event, kind) and where(event):
            return event


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_run_reports_ready_started_snapshots_and_finished(supervise, mode):
    sup = supervise(mode=mode, max_steps=30)
    sup.restart()
    seen = []
    for event in sup.events(lambda e: isinstance(e, Finished), timeout=LIMIT):
        seen.append(event)
    kinds = [type(e) for e in seen]
    assert kinds[0] is Ready and Started in kinds and kinds[-1] is Finished
    steps = [e.snapshot.step for e in seen if isinstance(e, Snapshotted)]
    assert steps == [10, 20, 30]
    assert sup.status == "finished" and seen[-1].metrics["step"] == 30


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_the_same_config_gives_the_same_numbers_in_both_modes_and_headless(supervise, mode):
    sup = supervise(mode=mode, max_steps=40, schedule=Schedule.every_steps(20))
    sup.restart()
    finished = _until(sup, Finished)
    headless = run_fixed(SMALL, 40, every=20)
    for name in ("loss_d", "loss_g", "grad_norm_g", "js", "w1", "g_mean", "g_std"):
        assert finished.metrics[name] == headless[name], name


def test_events_of_a_replaced_run_are_dropped(supervise):
    sup = supervise()
    sup.restart()
    _until(sup, Snapshotted, lambda e: e.snapshot.step >= 20)
    second = sup.restart()
    started = _until(sup, Started)
    assert started.run_id == second == 1
    for event in sup.wait(0.5):
        assert event.run_id in (-1, second)


def test_cold_change_restarts_and_hot_change_does_not(supervise):
    sup = supervise()
    sup.restart()
    _until(sup, Snapshotted)
    assert sup.change({"lr_d": 0.002}) == []
    hot = _until(sup, Snapshotted, lambda e: e.snapshot.config["lr_d"] == 0.002)
    assert hot.run_id == 0
    assert sup.change({"seed": 3}) == ["seed"]
    started = _until(sup, Started)
    assert started.run_id == 1 and "seed changed" in started.reason
    assert started.snapshot.config["seed"] == 3 and started.snapshot.config["lr_d"] == 0.002


def test_bad_changes_are_refused_before_reaching_the_run(supervise):
    sup = supervise()
    sup.restart()
    _until(sup, Ready)
    with pytest.raises(ConfigError, match="k"):
        sup.change({"k": 0})
    if "cuda" not in sup.devices:
        with pytest.raises(ConfigError, match="cuda"):
            sup.change({"device": "cuda"})
    assert sup.config == SMALL


def test_pause_step_resume_and_freeze(supervise):
    sup = supervise()
    sup.restart()
    _until(sup, Snapshotted)
    sup.pause()
    paused = _until(sup, Paused)
    sup.step(2)
    stepped = _until(sup, Snapshotted, lambda e: e.snapshot.step == paused.snapshot.step + 2)
    sup.freeze("d", True)
    sup.step(1)
    frozen = _until(sup, Snapshotted, lambda e: e.snapshot.step == stepped.snapshot.step + 1)
    assert frozen.snapshot.frozen == ("d",)
    assert frozen.snapshot.d_updates == stepped.snapshot.d_updates
    sup.resume()
    _until(sup, Snapshotted, lambda e: e.snapshot.step > frozen.snapshot.step + 10)


def test_state_round_trip_resumes_exactly(supervise):
    sup = supervise()
    sup.pause()
    sup.restart()
    _until(sup, Paused)
    sup.step(7)
    _until(sup, Snapshotted, lambda e: e.snapshot.step == 7)
    sup.request_state("tag")
    answer = _until(sup, StateReady)
    assert answer.tag == "tag" and answer.step == 7 and answer.state is not None
    sup.step(5)
    on = _until(sup, Snapshotted, lambda e: e.snapshot.step == 12).snapshot
    sup.restart(state=answer.state, reason="session")
    started = _until(sup, Started)
    assert started.snapshot.step == 7
    sup.step(5)
    again = _until(sup, Snapshotted, lambda e: e.snapshot.step == 12).snapshot
    np.testing.assert_array_equal(again.history["loss_d"], on.history["loss_d"])


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_spectrum_request_brings_the_eigenvalues_of_the_paused_weights(supervise, mode):
    from ganviz.core.spectrum import spectrum

    config = Config(data="gaussian", z_dim=1, hidden=4, layers=1, batch_size=16)
    sup = supervise(config, mode=mode)
    sup.pause()
    sup.restart()
    _until(sup, Paused)
    sup.step(3)
    _until(sup, Snapshotted, lambda e: e.snapshot.step == 3)
    sup.request_state("weights")
    weights = _until(sup, StateReady).state
    assert sup.request_spectrum("now")
    answer = _until(sup, SpectrumReady)
    assert answer.tag == "now" and answer.step == 3 and answer.reason == ""
    assert answer.method == "exact" and len(answer.eigenvalues) == answer.n_params == 26
    expected = spectrum(config, weights, 3)  # the same weights and minibatch, in this process
    np.testing.assert_allclose(answer.eigenvalues, expected.eigenvalues, atol=1e-12)


def test_a_comparison_gives_the_spectrum_of_the_variant_asked_for(supervise):
    from ganviz.core.spectrum import spectrum

    config = Config(data="gaussian", z_dim=1, hidden=4, layers=1, batch_size=16)
    sup = supervise(config)
    sup.pause()
    sup.compare("loss", ("minimax", "hinge"))
    _until(sup, Paused, lambda e: e.member == 1)
    sup.step(3)
    _until(sup, Snapshotted, lambda e: e.member == 1 and e.snapshot.step == 3)
    sup.request_state("weights")
    members = _until(sup, StateReady).state["members"]
    answers = []
    for member in (1, 0):
        assert sup.request_spectrum(("lab", member), member=member)
        answers.append(_until(sup, SpectrumReady, lambda e, m=member: e.tag == ("lab", m)))
    for answer, member, loss in zip(answers, (1, 0), ("hinge", "minimax")):
        assert answer.reason == "" and answer.step == 3
        expected = spectrum(config.replace(loss=loss), members[member], 3)
        np.testing.assert_allclose(answer.eigenvalues, expected.eigenvalues, atol=1e-12)
    # The two variants' fields differ: the answer is not the first variant's twice.
    assert not np.allclose(np.sort_complex(answers[0].eigenvalues),
                           np.sort_complex(answers[1].eigenvalues))
    sup.request_spectrum("far", member=2)
    far = _until(sup, SpectrumReady, lambda e: e.tag == "far")
    assert far.eigenvalues is None and far.reason == "no variant 2: the comparison has 2"


def test_a_run_that_failed_has_no_state_to_save(supervise, monkeypatch):
    import ganviz.core.loop as loop

    def broken(*args, **kw):
        raise RuntimeError("boom")
        yield

    monkeypatch.setattr(loop, "train", broken)
    sup = supervise()
    sup.restart()
    failed = _until(sup, Errored)
    assert failed.text == "RuntimeError: boom" and sup.status == "failed"
    sup.request_state("x")
    answer = _until(sup, StateReady)
    assert answer.state is None and "error" in answer.reason
    sup.request_spectrum("y")
    spectrum = _until(sup, SpectrumReady)
    assert spectrum.eigenvalues is None and "error" in spectrum.reason


def test_divergence_pauses_the_supervisor(supervise):
    sup = supervise(Config(data="gaussian", hidden=16, batch_size=32, optimizer="sgd", lr_d=1e6, lr_g=1e6))
    sup.restart()
    diverged = _until(sup, Diverged)
    assert sup.paused and diverged.restored_step < diverged.step


def test_a_killed_process_is_noticed_and_a_restart_starts_a_new_one(supervise):
    sup = supervise(mode="process")
    sup.restart()
    _until(sup, Snapshotted)
    old = sup._transport
    old._process.kill()
    died = _until(sup, Died)
    assert died.exitcode is not None and sup.status == "dead" and not sup.alive
    sup.restart()
    started = _until(sup, Started)
    assert started.run_id == 1 and sup._transport is not old and sup.alive


def test_slim_events_leave_out_unchanged_heavy_fields_and_come_back_whole():
    from ganviz.core.loop import train

    events = list(train(Config(data="ring8", hidden=16, batch_size=32),
                        schedule=Schedule.every_steps(5, measure="budget"), max_steps=20))
    slim, fat = Slimmer(), Fattener()
    for event in events:
        back = fat(slim(event))
        for field in dataclasses.fields(event.snapshot):
            a, b = getattr(event.snapshot, field.name), getattr(back.snapshot, field.name)
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b)
            elif field.name != "history":
                assert a == b, field.name
    # Only the first of a run of unchanged heavy fields travels.
    sent = [slim2 for slim2 in map(Slimmer().__call__, events)]
    assert isinstance(sent[0].snapshot.p_data, np.ndarray)
    assert all(s.snapshot.p_data == "<unchanged>" for s in sent[1:])


def test_not_applied_comes_back_as_an_event(supervise):
    from ganviz.runner.commands import Change

    sup = supervise()
    sup.restart()
    _until(sup, Snapshotted)
    sup._transport.send(Change({"hidden": 8}))  # past the supervisor's own checks
    refused = _until(sup, NotApplied)
    assert "restart" in refused.reason


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_a_view_is_drawn_by_a_running_and_by_a_finished_run(supervise, mode):
    sup = supervise(mode=mode, max_steps=30, schedule=Schedule.every_steps(10))
    sup.restart()
    start = _until(sup, Started).snapshot
    sup.set_view(((-9.0, 9.0),))
    follows = lambda e: e.snapshot.xs is not None and e.snapshot.xs[0] == -9.0  # noqa: E731
    assert _until(sup, Snapshotted, follows) is not None
    final = _until(sup, Finished)
    assert final.snapshot.xs[0] == -9.0
    # Finished, then the window changes its view: the host draws the last state there.
    sup.set_view(((-4.0, 12.0),))
    redrawn = _until(sup, Snapshotted, lambda e: e.snapshot.xs[0] == -4.0).snapshot
    assert redrawn.step == 30 and redrawn.xs[-1] == 12.0 and len(redrawn.xs) == len(start.xs)
    assert redrawn.metrics["js"] == final.snapshot.metrics["js"]  # the same state, measured alike
    assert sup.status == "finished"


def test_the_last_view_is_sent_again_when_the_run_finishes():
    """A view sent as the run ends can reach it after its last snapshot (and be lost with
    the run): when the run (every member of a comparison) has finished, the supervisor
    sends it once more, so that the host draws the ended run over what is shown."""
    from ganviz.runner.commands import Change

    class Capture:  # a transport that keeps what it is sent
        alive = True

        def __init__(self):
            self.sent = []

        def send(self, cmd):
            self.sent.append(cmd)

        def close(self, timeout):
            return True

    for variants, members in ((None, 1), (("k", (1, 2)), 2)):
        sup = Supervisor(SMALL, "thread")
        sup._transport = cap = Capture()
        sup.variants, sup.run_id, sup.status = variants, 0, "running"
        sup.set_view(((-5, 5),))
        views = lambda: [c.changes["view"] for c in cap.sent if isinstance(c, Change)]  # noqa: E731
        assert views() == [((-5.0, 5.0),)]
        for m in range(members):
            sup._take(Finished(0, None, member=m))
        assert sup.status == "finished" and views() == [((-5.0, 5.0),)] * 2
