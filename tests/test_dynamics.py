"""The dynamics lab's toy games against the closed forms of REFERENCES.md (Dirac-GAN, bilinear)."""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from ganviz.cli import main
from ganviz.core import dynamics as dyn
from ganviz.core.config import Config, ConfigError
from ganviz.core.dynamics import Game
from ganviz.core.presets import load_preset, preset_names


def sigmoid(t):
    return 1 / (1 + math.exp(-t))


def close(values, expected, tol=1e-6):
    values = np.sort_complex(np.asarray(values, dtype=complex))
    expected = np.sort_complex(np.asarray(expected, dtype=complex))
    np.testing.assert_allclose(values.real, expected.real, atol=tol)
    np.testing.assert_allclose(values.imag, expected.imag, atol=tol)


# --- the field's Jacobian at the equilibrium ----------------------------------------------


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating"])
def test_the_gan_jacobian_is_a_rotation_of_rate_one_half(loss):
    J = dyn.jacobian(Game(loss=loss))
    np.testing.assert_allclose(J, [[0, -0.5], [0.5, 0]], atol=1e-15)
    close(dyn.eigenvalues(Game(loss=loss)), [0.5j, -0.5j])


@pytest.mark.parametrize("loss,rate", [("wgan", 1.0), ("hinge", 1.0), ("lsgan", 0.25)])
def test_the_other_losses_rotate_at_their_f_prime_of_zero(loss, rate):
    close(dyn.eigenvalues(Game(loss=loss)), [rate * 1j, -rate * 1j])


@pytest.mark.parametrize("game,expected", [
    (Game(r1=0.3), [-0.15 + 0.47697j, -0.15 - 0.47697j]),
    (Game(r2=0.3), [-0.15 + 0.47697j, -0.15 - 0.47697j]),
    (Game(instance_noise=0.7), [-0.1225 + 0.48476j, -0.1225 - 0.48476j]),
    (Game(consensus=1.0), [-0.25 + 0.5j, -0.25 - 0.5j]),
    (Game(r1=1.0), [-0.5, -0.5]),  # critical damping: a double eigenvalue
], ids=["r1", "r2", "instance-noise", "consensus", "r1-critical"])
def test_regularised_eigenvalues_match_the_paper(game, expected):
    # REFERENCES quotes 5 decimals: half a unit of the last digit, and the closed forms to 1e-6
    close(dyn.eigenvalues(game), expected, tol=5e-6 if game.r1 != 1.0 else 1e-6)


@pytest.mark.parametrize("gamma", [0.1, 0.3, 0.9, 1.7])
def test_r1_eigenvalues_follow_the_closed_form(gamma):
    root = np.sqrt(complex(gamma**2 / 4 - 0.25))
    close(dyn.eigenvalues(Game(r1=gamma)), [-gamma / 2 + root, -gamma / 2 - root], tol=1e-9)


@pytest.mark.parametrize("sigma", [0.3, 0.7, 1.5])
def test_instance_noise_adds_two_sigma_squared_f_second(sigma):
    J = dyn.jacobian(Game(instance_noise=sigma))
    np.testing.assert_allclose(J, [[0, -0.5], [0.5, 2 * sigma**2 * -0.25]], atol=1e-12)


def test_instance_noise_does_nothing_to_the_linear_wgan():
    g, noisy = Game(loss="wgan"), Game(loss="wgan", instance_noise=0.7)
    close(dyn.eigenvalues(noisy), [1j, -1j])
    theta, psi = np.meshgrid(np.linspace(-2, 2, 5), np.linspace(-2, 2, 5))
    np.testing.assert_allclose(dyn.field(noisy, theta, psi), dyn.field(g, theta, psi), atol=1e-12)


# --- the field itself ------------------------------------------------------------------------


def test_the_minimax_field_is_the_papers():
    theta, psi = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1.5, 1.5, 5))
    fp = np.vectorize(lambda t: sigmoid(-t))  # f(t) = -log(1 + e^-t): f' = sigmoid(-t)
    v = dyn.field(Game(loss="minimax"), theta, psi)
    np.testing.assert_allclose(v[..., 0], -psi * fp(psi * theta), atol=1e-15)
    np.testing.assert_allclose(v[..., 1], theta * fp(psi * theta), atol=1e-15)
    ns = dyn.field(Game(loss="nonsaturating"), theta, psi)  # G maximises log D(G(z)) instead
    np.testing.assert_allclose(ns[..., 0], -psi * fp(-psi * theta), atol=1e-15)
    np.testing.assert_allclose(ns[..., 1], v[..., 1], atol=1e-15)


@pytest.mark.parametrize("loss", dyn.TOY_LOSSES)
def test_the_toy_uses_the_registrys_own_terms(loss):
    """Each derivative of loss_terms is torch.autograd's on the registry's term, in float64."""
    import torch

    from ganviz.core.losses import get

    entry = get(loss)
    logits = torch.tensor([-3.0, -1.2, -0.4, 0.0, 0.3, 0.5, 2.5], dtype=torch.float64)
    ours = dyn.loss_terms(loss, logits.numpy())
    for i, term in enumerate((entry.g_fake, entry.d_fake, entry.d_real)):
        l = logits.clone().requires_grad_(True)
        (first,) = torch.autograd.grad(term(l).sum(), l, create_graph=True)
        second = torch.autograd.grad(first.sum(), l, allow_unused=True)[0] \
            if first.requires_grad else None
        second = torch.zeros_like(l) if second is None else second
        np.testing.assert_allclose(ours[2 * i], first.detach().numpy(), atol=1e-14)
        np.testing.assert_allclose(ours[2 * i + 1], second.detach().numpy(), atol=1e-14)


def finite_jacobian(fun, x, eps=1e-6):
    x = np.asarray(x, dtype=float)
    cols = []
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = eps
        cols.append((fun(x + e) - fun(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("game", [
    Game(loss="minimax"), Game(loss="nonsaturating", r1=0.4), Game(loss="lsgan", r2=0.2),
    Game(loss="minimax", instance_noise=0.5), Game(loss="lsgan", instance_noise=0.3),
], ids=["minimax", "ns-r1", "lsgan-r2", "minimax-noise", "lsgan-noise"])
def test_the_analytic_jacobian_is_the_fields_derivative(game):
    for point in [(0.7, -0.4), (-1.3, 0.9), (0.2, 1.8)]:
        numeric = finite_jacobian(lambda x: dyn.field(game, x[0], x[1]), point)
        np.testing.assert_allclose(dyn.jacobian(game, *point), numeric, atol=1e-8)


def test_consensus_jacobian_is_exact_at_the_equilibrium():
    game = Game(loss="nonsaturating", consensus=0.8, r1=0.2, instance_noise=0.4)
    numeric = finite_jacobian(lambda x: dyn.field(game, x[0], x[1]), (0.0, 0.0))
    np.testing.assert_allclose(dyn.jacobian(game), numeric, atol=1e-8)


# --- the update operators -------------------------------------------------------------------


def test_simultaneous_update_eigenvalues_are_one_plus_i_h_f_prime():
    for h in (0.05, 0.2, 1.0):
        game = Game(update="simultaneous", lr_d=h, lr_g=h)
        close(dyn.update_eigenvalues(game), [1 + 0.5j * h, 1 - 0.5j * h], tol=1e-12)
        assert dyn.spectral_radius(game) == pytest.approx(math.sqrt(1 + h * h / 4), abs=1e-12)
    assert dyn.spectral_radius(Game(update="simultaneous")) == pytest.approx(1.0049876, abs=1e-7)


def test_every_simultaneous_step_grows_the_squared_norm_by_one_plus_h2_fprime2():
    h = 0.2
    path = dyn.trajectory(Game(update="simultaneous", lr_d=h, lr_g=h), 1.0, 1.0, 300)
    sq = (path**2).sum(axis=1)
    fp = np.array([sigmoid(-t) for t in path[:-1, 0] * path[:-1, 1]])
    np.testing.assert_allclose(sq[1:] / sq[:-1], 1 + h**2 * fp**2, rtol=1e-12)


def test_wgan_simultaneous_from_one_one_after_50_steps():
    path = dyn.trajectory(Game(loss="wgan", update="simultaneous"), 1.0, 1.0, 50)
    assert dyn.distance(path[-1]) == pytest.approx(3.770062, abs=1e-6)


@pytest.mark.parametrize("k,h", [(1, 0.2), (5, 0.3), (5, 2.0), (3, 1.5)])
def test_alternating_eigenvalues_follow_alpha(k, h):
    alpha = math.sqrt(k) * h * 0.5
    c = 1 - alpha**2 / 2
    root = np.sqrt(complex(c * c - 1))
    close(dyn.update_eigenvalues(Game(k=k, lr_d=h, lr_g=h)), [c + root, c - root], tol=1e-12)


def test_alternating_five_d_steps_at_h_two_leaves_the_unit_circle():
    moduli = np.sort(np.abs(dyn.update_eigenvalues(Game(k=5, lr_d=2.0, lr_g=2.0))))
    np.testing.assert_allclose(moduli, [(3 - math.sqrt(5)) / 2, (3 + math.sqrt(5)) / 2], atol=1e-12)
    assert moduli == pytest.approx([0.382, 2.618], abs=5e-4)


def test_wgan_alternating_conserves_its_quadratic_form():
    """D steps first (Algorithm 1) in the paper's psi conserve theta^2 + psi^2 + h theta psi.

    REFERENCES' theta^2 + psi^2 - h theta psi = 1.8 from (1, 1) is the same invariant
    with psi of the opposite sign (the registry's D, high on real samples), i.e. our
    start (1, -1); it is also what G-before-D steps conserve in the paper's psi.
    """
    h = 0.2
    game = Game(loss="wgan", lr_d=h, lr_g=h)
    for start, value in (((1.0, 1.0), 2.2), ((1.0, -1.0), 1.8)):
        t, p = dyn.trajectory(game, *start, 500).T
        np.testing.assert_allclose(t * t + p * p + h * t * p, value, atol=1e-12)


@pytest.mark.parametrize("game", [
    Game(update="alternating", k=3, lr_d=0.3, lr_g=0.1, r1=0.2),
    Game(update="simultaneous", lr_d=0.4, lr_g=0.2, instance_noise=0.6, loss="nonsaturating"),
    Game(update="extragradient", lr_d=0.5, lr_g=0.3, consensus=0.5, loss="lsgan"),
    Game(update="alternating", consensus=0.7, r2=0.1),
], ids=["alternating", "simultaneous", "extragradient", "alternating-consensus"])
def test_the_update_operator_is_the_steps_derivative(game):
    def step(x):
        return dyn.trajectory(game, x[0], x[1], 1)[-1]

    np.testing.assert_allclose(dyn.update_operator(game), finite_jacobian(step, (0.0, 0.0)),
                               atol=1e-8)


def test_the_optimistic_operator_is_the_two_step_recurrences_derivative():
    game = Game(update="optimistic", lr_d=0.3, lr_g=0.2, r1=0.2)
    J, H = dyn.jacobian(game), np.diag(game.rates)
    M = dyn.update_operator(game)
    np.testing.assert_allclose(M[:2, :2], np.eye(2) + 2 * H @ J, atol=1e-15)
    np.testing.assert_allclose(M[:2, 2:], -H @ J, atol=1e-15)
    # and the iterates decay at its spectral radius
    d = dyn.distance(dyn.trajectory(game, 1e-3, 1e-3, 400))
    assert (d[400] / d[200]) ** (1 / 200) == pytest.approx(dyn.spectral_radius(game), abs=1e-3)


# --- the run's sgd: momentum 0.9 ---------------------------------------------------------


def torch_sgd_trajectory(game, x0, steps):
    """The Dirac-GAN trained by torch.optim.SGD(momentum) on the registry's own loss terms
    (autograd, float64): alternating (k D steps, then G) or simultaneous steps."""
    import torch

    from ganviz.core import losses

    entry = losses.get(game.loss)
    theta = torch.tensor(x0[0], dtype=torch.float64, requires_grad=True)
    psi = torch.tensor(x0[1], dtype=torch.float64, requires_grad=True)
    opt_g = torch.optim.SGD([theta], lr=game.lr_g, momentum=game.momentum)
    opt_d = torch.optim.SGD([psi], lr=game.lr_d, momentum=game.momentum)
    zero = torch.zeros((), dtype=torch.float64)

    def loss_d():  # the real sample at 0 has logit 0; the fake one -psi theta (D(x) = -psi x)
        return (entry.d_real(zero - psi * 0) + entry.d_fake(-psi * theta)).sum()

    def loss_g():
        return entry.g_fake(-psi * theta).sum()

    out = [list(x0)]
    for _ in range(steps):
        if game.update == "alternating":
            for _ in range(game.k):
                opt_d.zero_grad()
                loss_d().backward()
                opt_d.step()
            opt_g.zero_grad()
            loss_g().backward()
            opt_g.step()
        else:
            opt_d.zero_grad()
            opt_g.zero_grad()
            gd = torch.autograd.grad(loss_d(), psi)[0]
            gg = torch.autograd.grad(loss_g(), theta)[0]
            psi.grad, theta.grad = gd, gg
            opt_d.step()
            opt_g.step()
        out.append([theta.item(), psi.item()])
    return np.array(out)


@pytest.mark.parametrize("game", [
    Game(update="alternating", k=2, lr_d=0.1, lr_g=0.05, momentum=0.9),
    Game(update="simultaneous", lr_d=0.08, lr_g=0.05, momentum=0.9, loss="nonsaturating"),
    Game(update="alternating", lr_d=0.05, lr_g=0.05, momentum=0.9, loss="lsgan"),
], ids=["alternating-k2", "simultaneous", "alternating-lsgan"])
def test_momentum_steps_are_torch_sgd_with_momentum(game):
    """The toy's sgd is torch.optim.SGD(momentum=0.9), the run's optimizer, step for step."""
    ours = dyn.trajectory(game, 1.0, 1.0, 60)
    # The same arithmetic up to how each writes f' (tanh here, torch's softplus backward):
    # rounding, grown by the spiral over 60 steps; plain steps differ by 1e-3 within two.
    np.testing.assert_allclose(ours, torch_sgd_trajectory(game, (1.0, 1.0), 60), rtol=1e-8)
    plain = dyn.trajectory(replace(game, momentum=0.0), 1.0, 1.0, 60)
    assert np.abs(plain[2] - ours[2]).max() > 1e-3


def momentum_state_path(game, x0, steps):
    """Iterate the linear operator on (theta, psi, m_theta, m_psi) from buffers at zero
    (optimistic: from the state after its first, plain, step)."""
    A = dyn.update_operator(game)
    x0 = np.asarray(x0, dtype=float)
    if game.update == "optimistic":
        m0 = dyn.field(game, *x0)
        z = np.concatenate([x0 + game.rates * m0, m0])
        out = [x0, z[:2]]
        steps -= 1
    else:
        z = np.concatenate([x0, np.zeros(2)])
        out = [x0]
    for _ in range(steps):
        z = A @ z
        out.append(z[:2])
    return np.array(out)


@pytest.mark.parametrize("update", ["alternating", "simultaneous", "extragradient", "optimistic"])
def test_the_momentum_operator_is_the_linear_games_exact_step(update):
    """On the bilinear game the field is linear, so the iterates are exactly the operator's powers."""
    game = Game(kind="bilinear", loss="wgan", update=update, k=3 if update == "alternating" else 1,
                lr_d=0.07, lr_g=0.04, momentum=0.9)
    assert dyn.update_operator(game).shape == (4, 4)
    path = dyn.trajectory(game, 1.0, -0.5, 50)
    np.testing.assert_allclose(path, momentum_state_path(game, (1.0, -0.5), 50), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("update", ["alternating", "simultaneous", "extragradient", "optimistic"])
def test_the_momentum_operator_is_the_nonlinear_steps_derivative(update):
    """On the Dirac-GAN with R1 and noise: the iterates from near the equilibrium follow it."""
    game = Game(update=update, lr_d=0.1, lr_g=0.05, r1=0.3, instance_noise=0.3, momentum=0.9)
    eps = 1e-7
    path = dyn.trajectory(game, eps, -eps, 30)
    # the non-linear terms are O(eps^2) relative to the iterates (~eps): 1e-8 of eps here
    np.testing.assert_allclose(path, momentum_state_path(game, (eps, -eps), 30), rtol=0,
                               atol=1e-8 * eps)


def test_simultaneous_momentum_eigenvalues_are_the_heavy_ball_roots():
    """H = h I: on each eigenvalue j of J, l^2 - (1 + mu + h j) l + mu = 0 (REFERENCES.md's j)."""
    for loss, a in (("minimax", 0.5), ("wgan", 1.0), ("lsgan", 0.25)):
        for h, mu in ((0.2, 0.9), (0.05, 0.5), (0.01, 0.9)):
            game = Game(loss=loss, update="simultaneous", lr_d=h, lr_g=h, momentum=mu)
            close(dyn.update_eigenvalues(game), heavy_ball(1j * a, h, mu) + heavy_ball(-1j * a, h, mu),
                  tol=1e-12)
            # the product of each pair of roots is mu
            values = dyn.update_eigenvalues(game)
            assert np.prod(values) == pytest.approx(mu ** 2, abs=1e-12)


def test_momentum_0_is_the_plain_operator():
    for update in ("alternating", "simultaneous", "extragradient", "optimistic"):
        plain = Game(update=update, lr_d=0.3, lr_g=0.2, r1=0.1)
        assert dyn.update_operator(plain).shape == ((4, 4) if update == "optimistic" else (2, 2))
        assert dyn.spectral_radius(plain) == dyn.spectral_radius(Game(
            update=update, lr_d=0.3, lr_g=0.2, r1=0.1, momentum=0.0))


def test_a_runs_sgd_gives_the_toy_momentum_and_the_papers_presets_plain_steps():
    assert Game.from_config(Config(optimizer="sgd")).momentum == 0.9
    assert Game.from_config(Config(optimizer="sgd"), momentum=0).momentum == 0
    with pytest.raises(ConfigError, match="accepted: sgd"):
        Game.from_config(Config(optimizer="adam"))
    papers = [load_preset(n) for n in preset_names() if n.startswith("paper-")]
    toys = [p for p in papers if p.dynamics]
    assert toys and all(p.momentum == 0 for p in toys)  # the papers take plain gradient steps


# --- the paper's tables ----------------------------------------------------------------------


@pytest.mark.parametrize("game,low,high", [
    (Game(update="simultaneous"), 3.0969 - 5e-5, 3.0969 + 5e-5),
    (Game(update="simultaneous", r1=0.3), 2.55e-6, 2.65e-6),
    (Game(update="simultaneous", r1=1.0), 1e-22, 1e-20),
    (Game(update="simultaneous", consensus=1.0), 1.5e-10, 3e-10),
    (Game(update="alternating"), 1.40, 1.43),
], ids=["gan", "r1-0.3", "r1-1", "consensus-1", "alternating"])
def test_the_dirac_gan_table_after_500_steps(game, low, high):
    assert low <= dyn.distance(dyn.trajectory(game, 1.0, 1.0, 500)[-1]) <= high


@pytest.mark.parametrize("eta", [0.1, 0.5, 0.6, 1.0])
def test_bilinear_spectral_radii(eta):
    def radius(rule):
        return dyn.spectral_radius(Game(kind="bilinear", loss="wgan", update=rule,
                                        lr_d=eta, lr_g=eta))

    assert radius("simultaneous") == pytest.approx(math.sqrt(1 + eta**2), abs=1e-12)
    assert radius("alternating") == pytest.approx(1.0, abs=1e-12)
    assert radius("extragradient") == pytest.approx(math.sqrt(1 - eta**2 + eta**4), abs=1e-12)


def test_bilinear_quoted_radii():
    def radius(rule, eta):
        return dyn.spectral_radius(Game(kind="bilinear", loss="wgan", update=rule,
                                        lr_d=eta, lr_g=eta))

    assert radius("extragradient", 0.6) == pytest.approx(0.877268, abs=1e-6)
    assert radius("optimistic", 0.5) == pytest.approx(0.707107, abs=1e-6)  # a double root
    assert radius("optimistic", 0.6) > 1


@pytest.mark.parametrize("rule,eta,low,high", [
    ("extragradient", 0.6, 2.5e-6, 3.5e-6),
    ("simultaneous", 0.1, 1.075, 1.085),
    ("alternating", 0.1, 0.995, 1.005),
])
def test_the_bilinear_notebook_after_100_steps(rule, eta, low, high):
    """Start (theta, phi) = (2, 0.5), phi clipped to [-1, 1] after each update, phi first."""
    game = Game(kind="bilinear", loss="wgan", update=rule, lr_d=eta, lr_g=eta, psi_clip=1.0)
    assert low <= dyn.distance(dyn.trajectory(game, 2.0, 0.5, 100)[-1]) <= high


# --- presets, the command line, the config -------------------------------------------------------


# The toy games' replays (the real GAN's paper- presets are tests/test_paper_gan.py's).
PAPER = [name for name in preset_names() if name.startswith("paper-") and load_preset(name).dynamics]


def test_there_are_paper_replays_of_both_games():
    kinds = {load_preset(name).dynamics for name in PAPER}
    assert len(PAPER) >= 6 and kinds == {"dirac", "bilinear"}


@pytest.mark.parametrize("name", PAPER)
def test_each_paper_preset_passes_its_line(name, capsys, tmp_path):
    preset = load_preset(name)
    assert "20" in preset.explanation and preset.look_for.startswith("Pass line")
    csv = tmp_path / "t.csv"
    assert main(["--headless", "--preset", name, "--csv", str(csv)]) == 0
    result = json.loads(capsys.readouterr().out)
    low, high = preset.passes
    assert low <= result["distance"] <= high
    rows = csv.read_text().splitlines()
    assert rows[0] == "step,theta,psi,distance" and len(rows) == preset.steps + 2
    assert float(rows[-1].split(",")[3]) == result["distance"]


def heavy_ball(j, h, mu):
    """Both roots of lambda^2 - (1 + mu + h j) lambda + mu = 0: simultaneous momentum steps
    at rate h on the eigendirection of J's eigenvalue j (REFERENCES.md's Dirac-GAN Jacobian)."""
    b = 1 + mu + h * j
    root = np.sqrt(complex(b * b - 4 * mu))
    return [(b + root) / 2, (b - root) / 2]


def test_headless_dynamics_prints_the_spectra_and_the_end(capsys):
    """The toy's sgd is the run's, momentum 0.9; --set momentum=0 takes plain gradient steps."""
    argv = ["--headless", "--dynamics", "dirac", "--set", "r1=0.3", "--set", "update=simultaneous",
            "--set", "theta0=0.5", "--set", "psi0=-1", "--steps", "40"]
    j = [-0.15 + 0.4769696j, -0.15 - 0.4769696j]
    assert main([*argv, "--set", "momentum=0"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["momentum"] == 0
    close([complex(*p) for p in r["eigenvalues"]], j)
    close([complex(*p) for p in r["update_eigenvalues"]], [0.97 + 0.0953939j, 0.97 - 0.0953939j])
    assert r["spectral_radius"] == pytest.approx(abs(0.97 + 0.0953939j), abs=1e-6)
    end = dyn.trajectory(Game(update="simultaneous", r1=0.3), 0.5, -1.0, 40)[-1]
    assert [r["theta"], r["psi"]] == end.tolist()
    assert r["distance"] == pytest.approx(math.hypot(*end), abs=1e-15)

    assert main(argv) == 0  # the run's sgd: the operator acts on (theta, psi, m_theta, m_psi)
    r = json.loads(capsys.readouterr().out)
    assert r["momentum"] == 0.9
    close([complex(*p) for p in r["eigenvalues"]], j)  # the field does not change
    expected = heavy_ball(j[0], 0.2, 0.9) + heavy_ball(j[1], 0.2, 0.9)
    close([complex(*p) for p in r["update_eigenvalues"]], expected)
    assert r["spectral_radius"] == pytest.approx(max(abs(v) for v in expected), abs=1e-6)
    end = dyn.trajectory(Game(update="simultaneous", r1=0.3, momentum=0.9), 0.5, -1.0, 40)[-1]
    assert [r["theta"], r["psi"]] == end.tolist()


@pytest.mark.parametrize("argv,words", [
    (["--dynamics", "saddle"], "accepted: dirac, bilinear"),
    (["--dynamics", "dirac", "--set", "update=momentum"], "accepted: alternating, simultaneous"),
    (["--dynamics", "dirac", "--set", "r1=-0.1"], "r1 must be >= 0"),
    (["--dynamics", "dirac", "--set", "consensus=-1"], "consensus must be >= 0"),
    (["--dynamics", "dirac", "--set", "loss=wgan-gp"], "the toy supports: minimax"),
    (["--dynamics", "dirac", "--set", "update=extragradient", "--set", "k=5"],
     "k=5 is for update=alternating"),
    (["--dynamics", "bilinear", "--set", "loss=minimax"], "--dynamics dirac"),
    (["--dynamics", "dirac", "--set", "data=ring8"], "does not apply to --dynamics"),
    (["--dynamics", "dirac", "--set", "theta0=nan"], "theta0 must be a finite number"),
    (["--dynamics", "dirac", "--set", "momentum=1"], "momentum must be a number from 0"),
    (["--dynamics", "dirac", "--set", "optimizer=adam"], "the toy takes the run's sgd steps"),
    (["--preset", "ring8", "--dynamics", "dirac"], "is an MLP run"),
])
def test_bad_dynamics_input_is_one_line_and_exit_2(argv, words, capsys):
    assert main(["--headless", *argv]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert captured.out == "" and err.startswith("ganviz: error:") and "\n" not in err
    assert words in err


def test_the_new_keys_default_to_todays_algorithm():
    c = Config()
    assert (c.update, c.r1, c.r2, c.consensus, c.instance_noise) == ("alternating", 0, 0, 0, 0)
    with pytest.raises(ConfigError, match="accepted: alternating, simultaneous, extragradient"):
        Config(update="adam")


def test_rotation_index_of_known_spectra():
    assert dyn.rotation_index(dyn.eigenvalues(Game())) == math.inf  # +-i/2: pure rotation
    assert dyn.rotation_index(dyn.eigenvalues(Game(consensus=1.0))) == pytest.approx(2.0)
    assert dyn.rotation_index(dyn.eigenvalues(Game(r1=1.0))) == 0.0  # a double real -1/2
    assert math.isnan(dyn.rotation_index([]))


def test_vary_changes_one_setting_and_keeps_k_for_alternating():
    base = Game(k=3)
    assert dyn.vary(base, "r1", 0.3) == Game(k=3, r1=0.3)
    assert dyn.vary(base, "lr", 0.5) == Game(k=3, lr_d=0.5, lr_g=0.5)
    assert dyn.vary(base, "update", "extragradient") == Game(update="extragradient", k=1)
    with pytest.raises(ConfigError, match="cannot vary 'kind'"):
        dyn.vary(base, "kind", "bilinear")
    with pytest.raises(ConfigError, match="r1 must be"):
        dyn.vary(base, "r1", -1.0)
