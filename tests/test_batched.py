"""The batched engine: member i is the single run of its config, bit for bit on the CPU.

Every comparable key (loss, k, lr_d, lr_g, optimizer, gp_weight, clip, seed),
k differing across members, a batch size off the vectorised loop's width, a
hot change mid-run, a frozen network, the numpy state round trip and the
measured metrics of the loop (``loop.train`` on a member).
"""

import numpy as np
import pytest

from ganviz.core.config import Config, ConfigError
from ganviz.core.loop import Schedule, train
from ganviz.core.events import Finished
from ganviz.core.trainer import STEP_STATS, Engine, set_threads
from ganviz.core.trainer.batched import BatchedEngine, batches

SMALL = dict(data="ring8", hidden=16, batch_size=64, seed=3)


@pytest.fixture(autouse=True)
def one_thread():
    set_threads()


def cfg(**kw):
    return Config(**{**SMALL, **kw})


def step_all(batch, singles, n):
    for _ in range(n):
        for member in batch.members:
            member.train_step()
        for e in singles:
            e.train_step()


def assert_identical(member, single):
    a, b = member.drain(), single.drain()
    assert len(a["step"]) > 0
    for name in ("step",) + STEP_STATS:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    sa, sb = member.state(full=True), single.state(full=True)
    for net in ("G", "D"):
        for key in sb[net]:
            np.testing.assert_array_equal(sa[net][key], sb[net][key], err_msg=f"{net}.{key}")
    for net in ("D", "G"):
        for key, buf in sb["optim"][net]["buffers"].items():
            np.testing.assert_array_equal(sa["optim"][net]["buffers"][key], buf, err_msg=key)
    np.testing.assert_array_equal(sa["rng"]["state"], sb["rng"]["state"])
    assert sa["counters"] == sb["counters"]


VARIANTS = {
    "loss": [dict(loss=l) for l in ("minimax", "nonsaturating", "wgan", "wgan-gp", "lsgan", "hinge")],
    "k": [dict(k=1), dict(k=3), dict(k=2)],
    "lr_d": [dict(lr_d=1e-3), dict(lr_d=3e-3)],
    "lr_g": [dict(lr_g=1e-3), dict(lr_g=3e-4)],
    "optimizer": [dict(optimizer=o, lr_d=1e-2, lr_g=1e-2) for o in ("sgd", "adam", "rmsprop")],
    "gp_weight": [dict(loss="wgan-gp", gp_weight=w) for w in (1.0, 10.0)],
    "clip": [dict(loss="wgan", clip=c) for c in (0.01, 0.05)],
    "seed": [dict(seed=s) for s in (0, 1, 2)],
}


@pytest.mark.parametrize("key", sorted(VARIANTS))
def test_each_member_is_its_single_run(key):
    configs = [cfg(**v) for v in VARIANTS[key]]
    batch = BatchedEngine(configs)
    singles = [Engine(c) for c in configs]
    step_all(batch, singles, 12)
    for member, single in zip(batch.members, singles):
        assert_identical(member, single)


def test_a_batch_size_off_the_vector_width_and_1d_data():
    for base in (dict(batch_size=50), dict(data="bimodal", batch_size=40)):
        configs = [cfg(**base, loss="minimax", k=2), cfg(**base, loss="wgan-gp", seed=5)]
        batch = BatchedEngine(configs)
        singles = [Engine(c) for c in configs]
        step_all(batch, singles, 8)
        for member, single in zip(batch.members, singles):
            assert_identical(member, single)


def test_a_hot_change_and_a_freeze_mid_run():
    configs = [cfg(), cfg(lr_g=2e-3), cfg(seed=4)]
    batch = BatchedEngine(configs)
    singles = [Engine(c) for c in configs]
    step_all(batch, singles, 5)
    # k and the loss split the shared stream; a new optimizer starts afresh.
    for engine in (batch.members[0], singles[0]):
        engine.apply({"k": 3, "loss": "wgan-gp"})
    for engine in (batch.members[1], singles[1]):
        engine.apply({"optimizer": "rmsprop", "lr_d": 5e-4})
    for engine in (batch.members[2], singles[2]):
        engine.freeze(d=True)
    step_all(batch, singles, 6)
    for member, single in zip(batch.members, singles):
        assert_identical(member, single)


def test_a_member_state_loads_into_a_single_engine_and_back():
    configs = [cfg(), cfg(loss="hinge")]
    batch = BatchedEngine(configs)
    step_all(batch, [], 4)
    single = Engine(configs[1])
    single.load_state(batch.members[1].state(full=True))
    batch.members[0].load_state(Engine(configs[0]).state(full=True))  # back to step 0
    fresh = Engine(configs[0])
    for engine in batch.members + [single, fresh]:
        engine.drain()  # the steps before the load are not in the single runs
    step_all(batch, [single, fresh], 3)
    assert_identical(batch.members[1], single)
    assert_identical(batch.members[0], fresh)


def test_the_loop_measures_a_member_as_its_single_run():
    configs = [cfg(), cfg(loss="minimax")]
    batch = BatchedEngine(configs)
    results = []
    for engine_of in (lambda i: batch.members[i], lambda i: None):
        gens = [train(c, schedule=Schedule.every_steps(5), max_steps=10, engine=engine_of(i))
                for i, c in enumerate(configs)]
        finals = [None, None]
        alive = set(range(len(gens)))
        while alive:  # round robin, one event each: the members' lockstep
            for i in sorted(alive):
                event = next(gens[i], None)
                if event is None:
                    alive.discard(i)
                elif isinstance(event, Finished):
                    finals[i] = event.metrics
        results.append(finals)
    for batched, single in zip(*results):
        assert batched["step"] == 10
        assert batched == single


def test_architectures_go_to_separate_batches_and_a_batch_refuses_a_mix():
    configs = [cfg(), cfg(hidden=8), cfg(loss="wgan"), cfg(batch_size=32)]
    assert batches(configs) == [[0, 2], [1], [3]]
    with pytest.raises(ConfigError, match="must agree on"):
        BatchedEngine(configs[:2])
    member = BatchedEngine(configs[:1]).members[0]
    with pytest.raises(ConfigError, match="batch_size cannot change"):
        member.apply({"batch_size": 32})


@pytest.mark.parametrize("key", ["loss", "k", "optimizer", "seed"])
def test_single_d_and_g_steps_of_every_member_are_its_single_runs(key):
    """Step D, Step G, then iterations again, a frozen D among them: every member is its run."""
    configs = [cfg(**v) for v in VARIANTS[key]]
    batch = BatchedEngine(configs)
    singles = [Engine(c) for c in configs]
    step_all(batch, singles, 3)
    for kind in ("d", "d", "g", "d", "g"):
        for e in batch.members + singles:
            getattr(e, f"{kind}_step")()
    for e in batch.members + singles:
        e.freeze(d=True)
    for e in batch.members + singles:
        e.d_step()
        e.g_step()
    step_all(batch, singles, 2)
    for member, single in zip(batch.members, singles):
        assert member.d_updates == single.d_updates and member.g_updates == single.g_updates
        assert_identical(member, single)
