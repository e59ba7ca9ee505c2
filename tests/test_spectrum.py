"""The real run's spectrum (core/spectrum.py) against closed forms and finite differences.

A network reduced to the Dirac-GAN (D(x) = w x with one weight, G a single bias)
must give core/dynamics.py's Jacobian; a tiny MLP's Jacobian must be the finite
difference of its field; Arnoldi must find the exact method's largest eigenvalues.
"""

import numpy as np
import pytest
import torch
from torch import nn

from ganviz.core import dynamics as dyn
from ganviz.core import spectrum as sp
from ganviz.core.config import Config, ConfigError
from ganviz.core.trainer import Engine


class Slope(nn.Module):
    """D(x) = w x: the registry's logit, high on real samples (the toy's psi is -w)."""

    def __init__(self, w: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([w], dtype=torch.float64))

    def forward(self, x):
        return x * self.w


class Point(nn.Module):
    """G(z) = theta whatever z: the Dirac generator."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta], dtype=torch.float64))

    def forward(self, z):
        return self.theta.expand(len(z), 1)


def dirac_field(loss, theta, psi, **penalties):
    real, z = torch.zeros(4, 1, dtype=torch.float64), torch.zeros(4, 1, dtype=torch.float64)
    return sp.GameField(Point(theta), Slope(-psi), loss, real, z, **penalties)


def toy_in_field_coordinates(J):
    """The toy's Jacobian over (theta, psi) as the field's over (w, theta), w = -psi."""
    S = np.array([[0.0, -1.0], [1.0, 0.0]])  # (w, theta) = S (theta, psi)
    return S @ J @ S.T


@pytest.mark.parametrize("loss", dyn.TOY_LOSSES)
@pytest.mark.parametrize("penalty", [{}, {"r1": 0.3}, {"r2": 0.7}, {"r1": 1.0}],
                         ids=["plain", "r1", "r2", "r1-critical"])
def test_the_dirac_network_has_the_toys_eigenvalues_at_the_equilibrium(loss, penalty):
    field = dirac_field(loss, 0.0, 0.0, **penalty)
    assert field.n == 2
    np.testing.assert_allclose(field.vector(), 0.0, atol=1e-15)
    ours = np.sort_complex(np.linalg.eigvals(field.matrix()))
    toy = np.sort_complex(dyn.eigenvalues(dyn.Game(loss=loss, **penalty)))
    np.testing.assert_allclose(ours, toy, atol=1e-6)


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "lsgan", "wgan"])
@pytest.mark.parametrize("theta,psi", [(0.7, -0.4), (-1.2, 0.9)])
def test_the_dirac_network_has_the_toys_jacobian_away_from_it(loss, theta, psi):
    field = dirac_field(loss, theta, psi, r2=0.4)
    toy = dyn.jacobian(dyn.Game(loss=loss, r2=0.4), theta, psi)
    np.testing.assert_allclose(field.matrix(), toy_in_field_coordinates(toy), atol=1e-12)


def test_the_consensus_spectrum_is_the_toys():
    field = dirac_field("minimax", 0.0, 0.0)
    plain, corrected, method = sp.eigen(field, consensus=1.0)
    assert method == "exact"
    np.testing.assert_allclose(np.sort_complex(corrected),
                               np.sort_complex(dyn.eigenvalues(dyn.Game(consensus=1.0))), atol=1e-6)
    np.testing.assert_allclose(np.sort_complex(plain), [-0.5j, 0.5j], atol=1e-12)


def tiny(loss="nonsaturating", **keys):
    config = Config(data="ring8", loss=loss, hidden=4, layers=1, z_dim=2, batch_size=16,
                    device="cpu", **keys)
    engine = Engine(config)
    for _ in range(3):
        engine.train_step()
    return config, engine


def finite_jacobian(field_at, x, eps=1e-6):
    cols = []
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = eps
        cols.append((field_at(x + e) - field_at(x - e)) / (2 * eps))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("loss", ["nonsaturating", "minimax", "wgan-gp", "lsgan"])
def test_a_tiny_mlp_jacobian_is_the_finite_difference_of_its_field(loss):
    config, engine = tiny(loss)
    field = sp.field_of_run(config, engine.state(), engine.step)
    x0 = np.concatenate([field.xd.detach().numpy(), field.xg.detach().numpy()])

    def field_at(x):
        state = _state_from(field, x, engine.state())
        return sp.field_of_run(config, state, engine.step).vector()

    J = field.matrix()
    fd = finite_jacobian(field_at, x0)
    np.testing.assert_allclose(J, fd, atol=1e-6 * max(1.0, np.abs(J).max()))
    u = np.random.default_rng(1).standard_normal(field.n)
    np.testing.assert_allclose(field.matvec(u), J @ u, atol=1e-10)
    np.testing.assert_allclose(field.rmatvec(u), J.T @ u, atol=1e-10)


def _state_from(field, x, like):
    """An engine state whose D and G weights are the flat vector x (the field's order)."""
    state = {"D": {}, "G": {}}
    offset = 0
    for name in ("D", "G"):
        for key, shape, size in field._shapes[name]:
            state[name][key] = x[offset:offset + size].reshape(tuple(shape))
            offset += size
        assert set(state[name]) == set(like[name])
    return state


def test_arnoldi_finds_the_exact_methods_largest_eigenvalues():
    config, engine = tiny(consensus=0.0)
    field = sp.field_of_run(config, engine.state(), engine.step)
    exact, _, m1 = sp.eigen(field, k=6)
    arnoldi, _, m2 = sp.eigen(field, k=6, exact_limit=0)
    assert (m1, m2) == ("exact", "arnoldi") and len(exact) == field.n
    # compare moduli (a conjugate pair can be cut at the k-th), then the values present in both
    np.testing.assert_allclose(np.abs(arnoldi)[:5], np.abs(exact)[:5], rtol=1e-8)
    for value in arnoldi[:5]:
        assert np.abs(exact - value).min() < 1e-8


def test_arnoldi_consensus_matches_the_exact_corrected_spectrum():
    config, engine = tiny()
    field = sp.field_of_run(config, engine.state(), engine.step)
    _, exact, _ = sp.eigen(field, consensus=0.5)
    _, arnoldi, _ = sp.eigen(field, consensus=0.5, k=4, exact_limit=0)
    for value in arnoldi[:3]:
        assert np.abs(exact - value).min() < 1e-8


def test_r1_and_instance_noise_enter_the_run_field():
    base = Config(data="ring8", hidden=4, layers=1, batch_size=16, device="cpu")
    state = Engine(base).state()
    plain = sp.field_of_run(base, state).vector()
    for key in ("r1", "r2", "instance_noise"):
        if not hasattr(base, key):
            continue
        changed = sp.field_of_run(_with(base, key, 0.5), state).vector()
        assert np.abs(changed - plain).max() > 1e-6, key
        # G's part does not see R1 or R2; D's does
        if key != "instance_noise":
            n_d = sp.field_of_run(base, state).n_d
            np.testing.assert_allclose(changed[n_d:], plain[n_d:], atol=1e-15)


def _with(config, key, value):
    """``config`` with ``key`` set (the field reads keys by name, whatever the MLP supports)."""
    import dataclasses

    return dataclasses.replace(config, **{key: value})


def test_the_spectrum_of_a_run_is_reproducible_and_says_how():
    config, engine = tiny()
    a = sp.spectrum(config, engine.state(), engine.step)
    b = sp.spectrum(config, engine.state(), engine.step)
    assert a.method == "exact" and a.n_params == sp.field_of_run(config, engine.state()).n
    assert a.batch == 16 and a.consensus is None
    np.testing.assert_array_equal(a.eigenvalues, b.eigenvalues)
    assert np.all(np.diff(np.abs(a.eigenvalues)) <= 1e-12)  # largest modulus first


def test_an_unmodelled_option_is_refused_in_one_line():
    config, engine = tiny()

    class WithNorm:
        def __getattr__(self, key):
            return True if key == "spectral_norm" else getattr(config, key)

    with pytest.raises(ConfigError, match="spectral_norm is not modelled"):
        sp.field_of_run(WithNorm(), engine.state())
