"""The training loop: snapshots, pause, single steps, stop, the inbox, restarts, divergence."""

import threading
import time

import numpy as np
import pytest

from ganviz.core.config import Config
from ganviz.core.loop import Inbox, train

FAST = Config(data="bimodal", hidden=16, batch_size=32)


def test_yields_first_and_last_snapshots_and_every_step_once():
    snaps = list(train(FAST, max_steps=300, measure=False, interval=0.01))
    assert snaps[0].step == 0 and snaps[-1].step == 300
    steps = np.concatenate([s.history["step"] for s in snaps])
    np.testing.assert_array_equal(steps, np.arange(1, 301))
    assert snaps[-1].message == "finished"


def test_snapshots_are_numpy_and_read_only():
    snap = next(iter(train(FAST, max_steps=1, measure=False)))
    assert isinstance(snap.history["loss_d"], np.ndarray)
    with pytest.raises(AttributeError):
        snap.step = 5


def test_snapshots_are_throttled_in_wall_time():
    t0 = time.perf_counter()
    snaps = list(train(FAST, max_steps=600, measure=False, interval=0.05))
    elapsed = time.perf_counter() - t0
    # At most one per interval, plus the first and the last.
    assert len(snaps) <= elapsed / 0.05 + 3
    assert len(snaps) < 600


class Runner:
    """Runs the loop in a thread, as the GUI worker does, and keeps what it yields."""

    def __init__(self, config, **kw):
        self.inbox = Inbox()
        self.snaps = []
        self.thread = threading.Thread(
            target=lambda: self.snaps.extend(train(config, self.inbox, interval=0.01, **kw))
        )
        self.thread.start()

    def wait_for(self, predicate, timeout=10.0):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.snaps and predicate(self.snaps[-1]):
                return self.snaps[-1]
            time.sleep(0.005)
        raise AssertionError("condition not reached")

    def stop(self):
        t0 = time.perf_counter()
        self.inbox.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()
        return time.perf_counter() - t0


def test_pause_single_steps_resume_and_prompt_stop():
    r = Runner(FAST)
    r.wait_for(lambda s: s.step > 20)
    r.inbox.pause()
    time.sleep(0.1)
    paused_at = r.snaps[-1].step
    time.sleep(0.2)
    assert r.snaps[-1].step == paused_at  # nothing trains while paused
    r.inbox.request_steps(3)
    snap = r.wait_for(lambda s: s.step == paused_at + 3)
    assert snap.d_updates == snap.step * FAST.k
    time.sleep(0.1)
    assert r.snaps[-1].step == paused_at + 3
    r.inbox.resume()
    r.wait_for(lambda s: s.step > paused_at + 50)
    assert r.stop() < 1.0
    assert r.snaps[-1].message == "stopped"


def test_hot_change_reaches_the_engine_without_restart():
    r = Runner(FAST)
    r.wait_for(lambda s: s.step > 5)
    r.inbox.put({"lr_d": 0.0123, "k": 3, "loss": "wgan"})
    snap = r.wait_for(lambda s: s.config["lr_d"] == 0.0123)
    assert snap.config["k"] == 3 and snap.run_id == 0 and snap.critic
    d0 = snap.d_updates
    r.wait_for(lambda s: s.step >= snap.step + 10)
    last = r.snaps[-1]
    assert last.d_updates - d0 == 3 * (last.step - snap.step)
    r.stop()


def test_cold_change_restarts_with_a_new_run_id_and_says_so():
    r = Runner(FAST)
    r.wait_for(lambda s: s.step > 5)
    r.inbox.put({"seed": 9, "lr_g": 0.002})
    snap = r.wait_for(lambda s: s.run_id == 1)
    assert snap.step == 0 and "restarted" in snap.message and "seed" in snap.message
    assert snap.config["seed"] == 9 and snap.config["lr_g"] == 0.002
    r.stop()


def test_bad_value_from_the_inbox_is_reported_not_raised():
    r = Runner(FAST)
    r.wait_for(lambda s: s.step > 5)
    r.inbox.put({"k": 0})
    snap = r.wait_for(lambda s: s.message.startswith("not applied"))
    assert "k" in snap.message and snap.config["k"] == 1
    r.wait_for(lambda s: s.step > snap.step + 5)  # and it keeps training
    r.stop()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_cold_change_to_a_missing_device_is_refused_and_training_goes_on():
    r = Runner(FAST)
    r.wait_for(lambda s: s.step > 5)
    r.inbox.put({"device": "cuda"})
    snap = r.wait_for(lambda s: s.message.startswith("not applied"))
    assert "cuda" in snap.message and snap.run_id == 0 and snap.config["device"] == "auto"
    r.wait_for(lambda s: s.step > snap.step + 5)
    r.stop()


def test_divergence_pauses_and_restores_the_last_good_weights():
    r = Runner(Config(data="gaussian", hidden=16, batch_size=32, optimizer="sgd", lr_d=1e6, lr_g=1e6))
    snap = r.wait_for(lambda s: s.diverged)
    assert r.inbox.paused
    assert "not finite" in snap.message and "learning rate" in snap.message
    # The weights were restored: lower the rate and training goes on, finite.
    r.inbox.put({"lr": 1e-3})
    r.inbox.resume()
    good = r.wait_for(lambda s: s.step > snap.step + 20 and not s.diverged)
    assert np.isfinite(good.history["loss_d"]).all()
    r.stop()


def test_slow_motion_speed_limit():
    r = Runner(FAST, speed=20.0)
    time.sleep(0.5)
    steps = r.snaps[-1].step
    r.stop()
    assert 3 <= steps <= 15  # about 10 at 20 steps/s, each one shown


def test_single_d_and_g_steps_change_only_their_network():
    r = Runner(FAST)
    r.wait_for(lambda s: s.step > 3)
    r.inbox.pause()
    base = r.wait_for(lambda s: r.inbox.paused and s is r.snaps[-1])
    time.sleep(0.1)
    base = r.snaps[-1]
    r.inbox.request_steps(2, kind="d")
    snap = r.wait_for(lambda s: s.d_updates == base.d_updates + 2)
    assert snap.g_updates == base.g_updates and snap.step == base.step
    assert not np.array_equal(snap.d, base.d)  # D moved: its heatmap changed
    np.testing.assert_array_equal(snap.fake, base.fake)  # G did not
    r.inbox.request_steps(1, kind="g")
    after = r.wait_for(lambda s: s.g_updates == base.g_updates + 1)
    assert after.d_updates == snap.d_updates
    assert not np.array_equal(after.fake, snap.fake)
    np.testing.assert_array_equal(after.d, snap.d)
    with pytest.raises(ValueError, match="iteration"):
        r.inbox.request_steps(1, kind="x")
    r.stop()
