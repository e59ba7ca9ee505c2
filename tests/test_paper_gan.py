"""The real-GAN paper replays (``paper-*`` presets with an MLP config): their pass lines.

Each preset's "Look for" states numbers measured with ``python main.py --headless
--preset NAME --steps N``; these tests run the shorter of them (seed 0, one torch
thread, the numbers are deterministic on the CPU) and check them.
"""

import pytest

from ganviz.core.presets import load_preset
from ganviz.runner.fixed import run_fixed


def final(name: str, steps: int, **changes) -> dict:
    config = load_preset(name).config.replace(**changes)
    return run_fixed(config, steps, every=steps)


@pytest.mark.slow
def test_two_time_scales_cover_the_ring_and_reversed_ones_collapse():
    """paper-ttur-ring8: 8/8 modes and 40% near a mode at step 1000 with D four times
    faster than G; with D four times slower, 0 modes and JS at ln 2."""
    c = load_preset("paper-ttur-ring8").config
    assert (c.ttur, c.lr_d, c.lr_g, c.adam_beta1, c.adam_beta2) == (4.0, 4e-4, 1e-4, 0.0, 0.9)
    fast_d = final("paper-ttur-ring8", 1000)
    assert fast_d["modes_captured"] == 8 and 0.35 < fast_d["high_quality"] < 0.45
    slow_d = final("paper-ttur-ring8", 1000, ttur=0.25)
    assert slow_d["config"]["lr_d"] == pytest.approx(2.5e-5)  # the lock moved D's rate
    assert slow_d["modes_captured"] == 0 and slow_d["js"] > 0.69


@pytest.mark.slow
def test_consensus_keeps_simultaneous_sgd_from_diverging():
    """paper-consensus-ring8: without consensus the run diverges at step 39; with gamma = 10
    it trains on, 8/8 modes and about 9% of samples near a mode at step 500."""
    with pytest.raises(FloatingPointError, match="diverged at step 39: loss_d is not finite"):
        final("paper-consensus-ring8", 500, consensus=0.0)
    kept = final("paper-consensus-ring8", 500)
    assert kept["modes_captured"] == 8 and 0.05 < kept["high_quality"] < 0.15
