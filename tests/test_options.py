"""The update rules and regularisers on the MLP GAN, against independent autograd computations.

Each option is checked in float64 from fixed initial weights: the test draws
the run's samples itself (the documented order: each D draw real, z, WGAN-GP's
eps, instance noise; each G draw z, noise), computes the players' objectives and
their gradients with its own torch.autograd code and its own ``torch.optim``
optimizers on copies of the networks, and compares the weights both engines
reach (1e-12). Then the two engines are compared with each other over longer
runs and hot changes, as tests/test_trainer_fast.py does for Algorithm 1.
"""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ganviz.core.config import Config, ConfigError
from ganviz.core.data import make_target
from ganviz.core.models import make_models
from ganviz.core.trainer import STEP_STATS, Engine, ReferenceEngine
from ganviz.core.trainer.run import SN_SEED_OFFSET

SMALL = dict(data="ring8", hidden=6, layers=2, z_dim=2, batch_size=12, seed=4,
             loss="nonsaturating", optimizer="sgd", lr_d=0.05, lr_g=0.03, device="cpu")
ENGINES = (Engine, ReferenceEngine)


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def small(**kw) -> Config:
    return Config(**{**SMALL, **kw})


class Draws:
    """The run's random stream, drawn in the documented order (the test's own copy)."""

    def __init__(self, c: Config, step=lambda: 0):
        self.c, self.rng, self.target, self.step = c, torch.Generator().manual_seed(c.seed), \
            make_target(c.data), step

    def sigma(self):
        c = self.c
        if c.instance_noise_anneal:
            return c.instance_noise * max(0.0, 1 - self.step() / c.instance_noise_anneal)
        return c.instance_noise

    def noise(self, n):
        s = self.sigma()
        return None if s == 0 else torch.randn(n, 2, generator=self.rng) * s

    def d(self):
        m = self.c.batch_size
        real = self.target.sample(m, self.rng, "cpu")
        z = torch.randn(m, self.c.z_dim, generator=self.rng)
        eps = torch.rand(m, 1, generator=self.rng) if self.c.loss == "wgan-gp" else None
        return real, z, eps, self.noise(2 * m)

    def g(self):
        return torch.randn(self.c.batch_size, self.c.z_dim, generator=self.rng), self.noise(self.c.batch_size)


def nets(c: Config):
    torch.manual_seed(c.seed)
    G, D = make_models(2, c.z_dim, c.hidden, c.layers)
    return G, D


def d_loss(c, D, real, fake, eps, noise):
    """Nonsaturating / WGAN-GP D loss with R1 and R2, written out (the test's own)."""
    x = torch.cat([real, fake]) + (0 if noise is None else noise)
    m = real.shape[0]
    xr, xf = x[:m], x[m:]
    if c.loss == "wgan-gp":
        loss = -D(xr).mean() + D(xf).mean()
        xh = (eps * xr + (1 - eps) * xf).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(D(xh).sum(), xh, create_graph=True)
        loss = loss + c.gp_weight * ((g.norm(dim=1) - 1) ** 2).mean()
    else:
        loss = F.softplus(-D(xr)).mean() + F.softplus(D(xf)).mean()
    for gamma, xs in ((c.r1, xr), (c.r2, xf)):
        if gamma:
            xs = xs if xs.requires_grad else xs.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(D(xs).sum(), xs, create_graph=True)
            loss = loss + gamma / 2 * (g ** 2).sum(1).mean()
    return loss


def g_loss(c, D, fake, noise):
    out = D(fake if noise is None else fake + noise)
    return -out.mean() if c.loss == "wgan-gp" else F.softplus(-out).mean()


def grads(loss, params, **kw):
    return list(torch.autograd.grad(loss, list(params), **kw))


def step(opt, params, gs):
    for p, g in zip(params, gs):
        p.grad = g.detach().clone()
    opt.step()


def optimizers(c, G, D):
    if c.optimizer == "sgd":
        make = lambda ps, lr: torch.optim.SGD(ps, lr=lr, momentum=0.9)  # noqa: E731
    else:
        make = lambda ps, lr: torch.optim.Adam(  # noqa: E731
            ps, lr=lr, betas=(c.adam_beta1, c.adam_beta2), eps=1e-8)
    return make(list(D.parameters()), c.lr_d), make(list(G.parameters()), c.lr_g)


def assert_weights(engine, G, D, atol=1e-12):
    for mine, theirs in ((engine.G, G), (engine.D, D)):
        for a, b in zip(mine.parameters(), theirs.parameters()):
            torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=atol)


def run(engine_cls, c, iterations):
    e = engine_cls(c)
    for _ in range(iterations):
        e.train_step()
    return e


# --- penalties, noise, Adam's betas: Algorithm 1 against the test's own computation -------------


@pytest.mark.parametrize("engine_cls", ENGINES)
@pytest.mark.parametrize("changes", [
    dict(r1=0.7), dict(r2=1.3), dict(r1=0.4, r2=0.9, loss="wgan-gp"),
    dict(instance_noise=0.3), dict(instance_noise=0.3, instance_noise_anneal=2, r1=0.5),
    dict(optimizer="adam", adam_beta1=0.0, adam_beta2=0.9, r1=0.2),
    dict(k=2, r2=0.5, optimizer="adam", adam_beta1=0.9),
])
def test_alternating_with_options_equals_autograd(float64, engine_cls, changes):
    c = small(**changes)
    G, D = nets(c)
    opt_d, opt_g = optimizers(c, G, D)
    t = [0]
    draws = Draws(c, lambda: t[0])
    for t[0] in range(3):
        for _ in range(c.k):
            real, z, eps, noise = draws.d()
            with torch.no_grad():
                fake = G(z)
            step(opt_d, D.parameters(), grads(d_loss(c, D, real, fake, eps, noise), D.parameters()))
        z, noise = draws.g()
        step(opt_g, G.parameters(), grads(g_loss(c, D, G(z), noise), G.parameters()))
    assert_weights(run(engine_cls, c, 3), G, D)


def test_penalty_values_are_the_loss_d_reported(float64):
    """loss_d is D's loss plus gamma/2 E|grad D|^2 on real (R1) and generated (R2) samples."""
    c = small(r1=2.0, r2=0.5)
    G, D = nets(c)
    real, z, eps, noise = Draws(c).d()
    with torch.no_grad():
        fake = G(z)
    want = d_loss(c, D, real, fake, eps, noise).item()
    for cls in ENGINES:
        e = run(cls, c, 1)
        assert e.drain()["loss_d"][0] == pytest.approx(want, rel=1e-13)


def test_instance_noise_anneals_linearly_to_zero():
    e = Engine(small(instance_noise=0.4, instance_noise_anneal=4))
    sigmas = []
    for _ in range(6):
        sigmas.append(e.noise_std())
        e.train_step()
    np.testing.assert_allclose(sigmas, [0.4, 0.3, 0.2, 0.1, 0.0, 0.0], atol=1e-15)


# --- the update rules -------------------------------------------------------------------------


def expected_rule(c, iterations):
    """The rule's iterates, by the test's own hand (torch.optim on copies of the networks)."""
    G, D = nets(c)
    opt_d, opt_g = optimizers(c, G, D)
    draws = Draws(c)
    previous = {}
    gamma = c.consensus

    def field(dd, gd):
        real, z, eps, noise = dd
        zg, noise_g = gd
        fake = G(z) if gamma else G(z).detach()
        ld = d_loss(c, D, real, fake, eps, noise)
        lg = g_loss(c, D, G(zg), noise_g)
        dp, gp = list(D.parameters()), list(G.parameters())
        if not gamma:
            return grads(ld, dp), grads(lg, gp)
        # consensus: v + gamma J^T v with J the full Jacobian of v (the test's own: dense)
        flat = torch.cat([p.detach().reshape(-1) for p in dp + gp])
        shapes = [p.shape for p in dp + gp]

        def v_of(x):
            if not x.requires_grad:
                x = x.detach().requires_grad_(True)
            chunks, i = [], 0
            for s in shapes:
                n = math.prod(s)
                chunks.append(x[i:i + n].view(s))
                i += n
            funcs = dict(zip([id(p) for p in dp + gp], chunks))
            d_fn = lambda x_: torch.func.functional_call(  # noqa: E731
                D, {n: funcs[id(p)] for n, p in D.named_parameters()}, (x_,))
            g_fn = lambda z_: torch.func.functional_call(  # noqa: E731
                G, {n: funcs[id(p)] for n, p in G.named_parameters()}, (z_,))
            ld_ = d_loss(c, d_fn, real, g_fn(z), eps, noise)
            lg_ = g_loss(c, d_fn, g_fn(zg), noise_g)
            vd = torch.autograd.grad(ld_, [funcs[id(p)] for p in dp], create_graph=True)
            vg = torch.autograd.grad(lg_, [funcs[id(p)] for p in gp], create_graph=True)
            return torch.cat([t.reshape(-1) for t in list(vd) + list(vg)])

        v = v_of(flat)
        J = torch.autograd.functional.jacobian(v_of, flat)
        w = (v + gamma * J.T @ v).detach()
        out, i = [], 0
        for s in shapes:
            n = math.prod(s)
            out.append(w[i:i + n].view(s))
            i += n
        return out[:len(dp)], out[len(dp):]

    def apply(gd_, gg):
        step(opt_d, D.parameters(), gd_)
        step(opt_g, G.parameters(), gg)

    for _ in range(iterations):
        dd, gd = draws.d(), draws.g()
        if c.update == "simultaneous":
            apply(*field(dd, gd))
        elif c.update == "extragradient":
            saved = [p.detach().clone() for p in list(D.parameters()) + list(G.parameters())]
            apply(*field(dd, gd))
            half = field(draws.d(), draws.g())
            with torch.no_grad():
                for p, s in zip(list(D.parameters()) + list(G.parameters()), saved):
                    p.copy_(s)
            apply(*half)
        else:  # optimistic
            gd_, gg = field(dd, gd)
            for name, net, opt, gs in (("d", D, opt_d, gd_), ("g", G, opt_g, gg)):
                before = [p.detach().clone() for p in net.parameters()]
                step(opt, net.parameters(), gs)
                with torch.no_grad():
                    delta = [p - b for p, b in zip(net.parameters(), before)]
                    prev = previous.get(name, delta)
                    for p, b, dl, pv in zip(net.parameters(), before, delta, prev):
                        p.copy_(b + 2 * dl - pv)
                previous[name] = delta
    return G, D


@pytest.mark.parametrize("engine_cls", ENGINES)
@pytest.mark.parametrize("update", ["simultaneous", "extragradient", "optimistic"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_update_rules_equal_their_definition(float64, engine_cls, update, optimizer):
    c = small(update=update, optimizer=optimizer, r1=0.3)
    G, D = expected_rule(c, 4)
    assert_weights(run(engine_cls, c, 4), G, D, atol=1e-12)


@pytest.mark.parametrize("engine_cls", ENGINES)
@pytest.mark.parametrize("update", ["simultaneous", "optimistic"])
def test_consensus_equals_v_plus_gamma_jacobian_transpose_v(float64, engine_cls, update):
    c = small(update=update, consensus=0.5, r1=0.2, hidden=4)
    G, D = expected_rule(c, 2)
    assert_weights(run(engine_cls, c, 2), G, D, atol=1e-12)


@pytest.mark.parametrize("engine_cls", ENGINES)
def test_consensus_with_alternating_steps(float64, engine_cls):
    """Each alternating step evaluates the whole field on a D draw and a G draw, in that order."""
    c = small(consensus=0.8, hidden=4, optimizer="adam", lr_d=0.01, lr_g=0.01)
    G, D = nets(c)
    opt_d, opt_g = optimizers(c, G, D)
    draws = Draws(c)
    dp, gp = list(D.parameters()), list(G.parameters())

    def directions(dd, gd):
        real, z, eps, noise = dd
        v = grads(d_loss(c, D, real, G(z), eps, noise), dp, create_graph=True) + grads(
            g_loss(c, D, G(gd[0]), gd[1]), gp, create_graph=True)
        # J^T v as a Hessian-vector product of (1/2)|v|^2 with v held fixed (the test's own form)
        fixed = [t.detach() for t in v]
        jtv = grads(sum((a * b).sum() for a, b in zip(v, fixed)), dp + gp, allow_unused=True)
        return [f + c.consensus * j for f, j in zip(fixed, jtv)]

    for _ in range(2):
        step(opt_d, dp, directions(draws.d(), draws.g())[:len(dp)])
        step(opt_g, gp, directions(draws.d(), draws.g())[len(dp):])
    assert_weights(run(engine_cls, c, 2), G, D)


# --- EMA, spectral norm -------------------------------------------------------------------------


@pytest.mark.parametrize("engine_cls", ENGINES)
def test_ema_is_the_moving_average_of_g_and_is_what_is_drawn(float64, engine_cls):
    c = small(ema=0.9)
    e = engine_cls(c)
    avg = [p.detach().clone() for p in e.G.parameters()]
    for _ in range(5):
        e.train_step()
        avg = [0.9 * a + 0.1 * p.detach() for a, p in zip(avg, e.G.parameters())]
    for a, b in zip(avg, e.G_ema.parameters()):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-14)
    assert e.G_drawn is e.G_ema
    z = torch.randn(7, 2)
    with torch.no_grad():
        G = copy.deepcopy(e.G)
        for p, a in zip(G.parameters(), avg):
            p.copy_(a)
        torch.testing.assert_close(e.G_drawn(z), G(z), rtol=0, atol=1e-14)
    e.apply({"ema": 0.0})
    assert e.G_drawn is e.G


def test_the_probe_measures_the_average():
    from ganviz.core.probe import Probe

    e = Engine(small(ema=0.5))
    for _ in range(3):
        e.train_step()
    probe = Probe(e, n_show=16, n_eval=64, grid=10)
    with torch.no_grad():
        np.testing.assert_array_equal(probe.generated(), e.G_ema(probe.z_eval).double().numpy())
        assert not np.allclose(probe.generated(), e.G(probe.z_eval).double().numpy())


@pytest.mark.parametrize("engine_cls", ENGINES)
def test_spectral_norm_equals_torch_spectral_norm(float64, engine_cls):
    """D is SNGAN's W / (u^T W v), with one power iteration (v = W^T u / |.|, u = W v / |.|,
    SNGAN's order) before each D update: torch's own parametrisation, in eval mode with its
    vectors set by the test's power step, gives the same run."""
    c = small(spectral_norm=1, optimizer="adam", lr_d=0.01, lr_g=0.01)
    G, D = nets(c)
    rng = torch.Generator().manual_seed(c.seed + SN_SEED_OFFSET)
    for lin in D.linears():
        torch.nn.utils.parametrizations.spectral_norm(lin)
        sn = lin.parametrizations.weight[0]
        u = F.normalize(torch.randn(lin.out_features, generator=rng), dim=0)
        with torch.no_grad():
            sn._u.copy_(u)
            sn._v.copy_(F.normalize(lin.parametrizations.weight.original.t() @ u, dim=0))
    D.eval()  # torch's own power iteration off: the test's below instead

    def power_step():
        with torch.no_grad():
            for lin in D.linears():
                sn, W = lin.parametrizations.weight[0], lin.parametrizations.weight.original
                sn._v.copy_(F.normalize(W.t() @ sn._u, dim=0))
                sn._u.copy_(F.normalize(W @ sn._v, dim=0))

    opt_d, opt_g = optimizers(c, G, D)
    draws = Draws(c)
    for _ in range(3):
        real, z, eps, noise = draws.d()
        power_step()
        with torch.no_grad():
            fake = G(z)
        step(opt_d, D.parameters(), grads(d_loss(c, D, real, fake, eps, noise), D.parameters()))
        z, noise = draws.g()
        step(opt_g, G.parameters(), grads(g_loss(c, D, G(z), noise), G.parameters()))
    e = run(engine_cls, c, 3)
    for a, b in zip(G.parameters(), e.G.parameters()):
        torch.testing.assert_close(a.detach(), b.detach(), rtol=0, atol=1e-12)
    raw = [lin.parametrizations.weight.original for lin in D.linears()]
    for a, lin in zip(raw, e.D.linears()):
        torch.testing.assert_close(a.detach(), lin.weight.detach(), rtol=0, atol=1e-12)
    x = torch.randn(9, 2)
    with torch.no_grad():
        torch.testing.assert_close(e.D_drawn(x), D(x), rtol=0, atol=1e-12)


# --- the two engines agree over longer runs and hot changes -------------------------------------


def assert_same(a, b, atol=1e-10):
    sa, sb = a.drain(), b.drain()
    for name in STEP_STATS:
        np.testing.assert_allclose(sa[name], sb[name], rtol=1e-9, atol=atol, err_msg=name)
    for net in ("G", "D"):
        for key, value in a.state()[net].items():
            np.testing.assert_allclose(value, b.state()[net][key], rtol=1e-9, atol=atol, err_msg=key)


@pytest.mark.parametrize("changes", [
    dict(update="simultaneous", optimizer="rmsprop"), dict(update="extragradient", loss="wgan"),
    dict(update="optimistic", loss="hinge", ema=0.99), dict(k=3, loss="wgan", r2=0.2),
    dict(loss="lsgan", instance_noise=0.1, r1=1.0, optimizer="adam", adam_beta1=0.9),
    dict(consensus=0.1, loss="minimax", update="simultaneous", hidden=5),
    dict(spectral_norm=1, loss="hinge", update="extragradient", optimizer="adam"),
])
def test_fast_and_reference_agree(float64, changes):
    c = small(**changes)
    a, b = run(Engine, c, 8), run(ReferenceEngine, c, 8)
    assert_same(a, b)


def test_hot_changes_of_the_new_keys_agree(float64):
    c = small(optimizer="adam", lr_d=0.01, lr_g=0.01)
    a, b = Engine(c), ReferenceEngine(c)
    for changes in ({"r1": 0.5}, {"update": "optimistic"}, {"ema": 0.9, "instance_noise": 0.2},
                    {"adam_beta1": 0.0, "adam_beta2": 0.99}, {"consensus": 0.3},
                    {"update": "extragradient", "r1": 0.0}, {"ttur": 3.0},
                    {"lr_g": 0.002}, {"update": "alternating", "consensus": 0.0, "k": 2}):
        for e in (a, b):
            e.apply(changes)
            for _ in range(3):
                e.train_step()
    assert a.config.lr_d == pytest.approx(0.006) and b.config == a.config
    assert_same(a, b)


def test_a_full_state_resumes_the_same_run(float64):
    c = small(ema=0.8, spectral_norm=1, update="optimistic", optimizer="adam", lr_d=0.01, lr_g=0.01)
    whole = run(Engine, c, 6)
    half = run(Engine, c, 3)
    other = Engine(c.replace(seed=11))
    other.load_state(half.state(full=True))
    other._previous_step = dict(half._previous_step)  # the optimistic memory is not a saved part
    for _ in range(3):
        other.train_step()
    for net in ("G", "D", "G_ema"):
        for key, value in whole.state()[net].items():
            np.testing.assert_array_equal(value, other.state()[net][key], err_msg=f"{net} {key}")


def test_the_engine_says_when_it_uses_autograd():
    assert Engine(small()).note == ""
    assert Engine(small(r1=1.0, update="optimistic", ema=0.9, instance_noise=0.1)).note == ""
    assert Engine(small(consensus=0.1)).note == "autograd engine: consensus on"
    e = Engine(small(spectral_norm=1))
    assert e.note == "autograd engine: spectral_norm on"
    e.apply({"consensus": 0.2})
    assert e.note == "autograd engine: consensus, spectral_norm on"
    assert ReferenceEngine(small()).note == "autograd reference engine"


# --- the keys: validation and the two-time-scale lock ------------------------------------------


@pytest.mark.parametrize("values,words", [
    (dict(update="leapfrog"), "unknown update 'leapfrog'; accepted: alternating, simultaneous, "
                              "extragradient, optimistic"),
    (dict(r1=-1.0), "r1 must be >= 0, got -1.0"),
    (dict(consensus=-0.1), "consensus must be >= 0"),
    (dict(ema=1.0), "ema must be in [0, 1), got 1.0"),
    (dict(adam_beta2=1.5), "adam_beta2 must be in [0, 1)"),
    (dict(spectral_norm=2), "spectral_norm must be between 0 and 1, got 2"),
    (dict(k=3, update="simultaneous"), "k=3 is for update=alternating"),
    (dict(consensus=0.5, loss="wgan"), "consensus with loss=wgan is not supported"),
    (dict(instance_noise_anneal=-3), "instance_noise_anneal must be between 0"),
])
def test_bad_values_are_refused_in_one_line(values, words):
    with pytest.raises(ConfigError) as info:
        Config.from_dict(values)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_ttur_locks_the_rates():
    c = Config.from_dict({"ttur": 4.0, "lr_g": 1e-4})
    assert c.lr_d == pytest.approx(4e-4)
    assert c.replace(lr_g=2e-4).lr_d == pytest.approx(8e-4)  # G's slider moves D's rate
    assert c.replace(lr_d=2e-3).lr_g == pytest.approx(5e-4)  # and D's moves G's
    assert c.replace(lr=1e-3).lr_d == pytest.approx(4e-3)  # lr is G's rate under the lock
    with pytest.raises(ConfigError, match="ttur=4 locks lr_d = 4 \\* lr_g"):
        c.replace(lr_d=1e-3, lr_g=1e-3)  # a pair that breaks the lock is refused
    assert c.replace(ttur=0.0, lr_d=1e-3).lr_g == pytest.approx(1e-4)  # off: free rates


def test_a_headless_run_takes_the_new_keys_and_refuses_bad_ones(capsys):
    from ganviz.cli import main

    assert main(["--headless", "--preset", "gaussian-1d", "--set", "update=leapfrog",
                 "--steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganviz: error: unknown update 'leapfrog'") and "\n" not in err
    assert main(["--headless", "--preset", "gaussian-1d", "--set", "update=optimistic",
                 "--steps", "5"]) == 2  # the preset's k=5 is for alternating steps
    err = capsys.readouterr().err.strip()
    assert err == ("ganviz: error: k=5 is for update=alternating; optimistic moves both players "
                   "at once (k=1), as in the dynamics lab")
    assert main(["--headless", "--preset", "gaussian-1d", "--set", "update=optimistic", "--set", "k=1",
                 "--set", "r1=1", "--steps", "5", "--every", "5"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["config"]["update"] == "optimistic" and out["config"]["r1"] == 1.0


# --- the batched engine: never a silently different algorithm ------------------------------------


def test_members_with_new_options_train_as_single_engines():
    from ganviz.core.trainer.batched import BatchedEngine, batches

    plain, betas, r1 = small(), small(adam_beta1=0.9, optimizer="adam"), small(r1=1.0)
    assert batches([plain, r1, betas]) == [[0, 2], [1]]
    with pytest.raises(ConfigError, match="^r1 is not batched; that run trains as a single engine$"):
        BatchedEngine([r1])
    batch = BatchedEngine([plain, betas])
    with pytest.raises(ConfigError, match="not batched"):
        batch.members[0].apply({"update": "optimistic"})
    singles = [Engine(plain), Engine(betas)]
    for _ in range(3):
        for e in batch.members + singles:
            e.train_step()
    for a, b in zip(batch.members, singles):  # Adam's betas are each member's own, bit for bit
        for key, value in a.state()["G"].items():
            np.testing.assert_array_equal(value, b.state()["G"][key])


def test_a_comparison_of_a_new_option_trains_each_variant_as_its_single_run():
    from ganviz.runner.compare import run_compare
    from ganviz.runner.fixed import run_fixed

    configs = [small(r1=0.0), small(r1=2.0)]
    out = run_compare("r1", configs, steps=6, every=3, processes=1)
    single = run_fixed(configs[1], 6, every=3)
    assert out["runs"][1]["loss_d"] == single["loss_d"]
    assert out["runs"][1]["loss_d"] != out["runs"][0]["loss_d"]


# --- the window's group ----------------------------------------------------------------------


def test_the_options_group_emits_each_key_and_keeps_the_rate_lock(qtbot):
    from ganviz.app.controls import ControlPanel
    from ganviz.app.options import OPTION_TIPS

    panel = ControlPanel(Config.from_dict({"ttur": 2.0, "lr_g": 1e-4}))
    qtbot.addWidget(panel)
    group = panel.options
    assert not group.body.isVisibleTo(panel)  # collapsed by default
    group.toggle.click()
    assert group.body.isVisibleTo(panel)
    assert set(OPTION_TIPS) == {"update", "r1", "r2", "consensus", "instance_noise",
                                "instance_noise_anneal", "ema", "adam_beta1", "adam_beta2",
                                "spectral_norm", "ttur"}
    assert "|grad<sub>x</sub> D(x)|<sup>2</sup>" in group.edits["r1"].toolTip()
    got = []
    panel.params_changed.connect(got.append)
    group.edits["r1"].setText("0.5")
    group.edits["r1"].setModified(True)
    group.edits["r1"].editingFinished.emit()
    group.update_rule.setCurrentText("extragradient")
    group.update_rule.activated.emit(2)
    group.spectral_norm.setChecked(True)
    panel.lr_g.slider.setValue(panel.lr_g.slider.value() + 100)  # a decade up: lr G 1e-3
    assert got[:3] == [{"r1": "0.5"}, {"update": "extragradient"}, {"spectral_norm": 1}]
    assert got[3] == {"lr_g": pytest.approx(1e-3)}
    assert panel.lr_d.edit.text() == "0.002"  # the lock: lr D = 2 lr G, shown at once
    panel.show_config(Config(update="optimistic", ema=0.99))
    assert group.update_rule.currentText() == "optimistic" and group.edits["ema"].text() == "0.99"


def test_a_session_keeps_the_average_and_the_power_vectors(tmp_path):
    from ganviz.core.session import Session, load_session, save_session

    c = small(ema=0.9, spectral_norm=1)
    e = run(Engine, c, 4)
    save_session(tmp_path / "s.json", Session(config=c, step=4, state=e.state(full=True),
                                               history={}, measured={}))
    back = load_session(tmp_path / "s.json")
    other = Engine(c)
    other.load_state(back.state)
    z = torch.randn(5, 2)
    with torch.no_grad():
        torch.testing.assert_close(other.G_drawn(z), e.G_drawn(z))
        torch.testing.assert_close(other.D_drawn(z), e.D_drawn(z))
    for a, b in zip(other.sn.u + other.sn.v, e.sn.u + e.sn.v):
        torch.testing.assert_close(a, b)


# --- live changes ------------------------------------------------------------------------------


def test_the_supervisor_applies_the_new_keys_live_and_restarts_for_spectral_norm():
    from ganviz.runner.supervisor import Supervisor

    sup = Supervisor(small(), mode="thread")
    assert sup.change({"r1": 0.5, "update": "optimistic", "ema": 0.99}) == []
    assert sup.change({"spectral_norm": 1}) == ["spectral_norm"]
    before = sup.config
    for bad in ({"update": "bogus"}, {"r2": -1}, {"k": 2}, {"consensus": 1, "loss": "wgan"}):
        with pytest.raises(ConfigError):
            sup.change(bad)
        assert sup.config == before  # the run untouched


def test_a_change_through_the_inbox_applies_at_the_next_step():
    from ganviz.core.events import NotApplied
    from ganviz.core.loop import Inbox, Schedule, train

    c = small()
    inbox, live = Inbox(), Engine(c)
    events = train(c, inbox, schedule=Schedule.every_steps(2, measure="off"), max_steps=8, engine=live)
    next(events)  # Started
    assert next(events).snapshot.step == 2
    inbox.put({"r1": 2.0, "update": "extragradient"})
    assert next(events).snapshot.step == 4
    inbox.put({"spectral_norm": 1})  # cold: the runner restarts the run; the loop refuses it
    rest = list(events)
    assert any(isinstance(e, NotApplied) and "spectral_norm" in e.reason for e in rest)
    by_hand = run(Engine, c, 2)
    by_hand.apply({"r1": 2.0, "update": "extragradient"})
    for _ in range(6):
        by_hand.train_step()
    for key, value in by_hand.state()["G"].items():
        np.testing.assert_array_equal(live.state()["G"][key], value)


def test_the_snapshot_names_the_engine_for_the_status_bar():
    from ganviz.core.probe import Probe, build_snapshot

    for changes, note in (({}, ""), ({"consensus": 0.5}, "autograd engine: consensus on")):
        e = Engine(small(**changes))
        e.train_step()
        snap = build_snapshot(e, Probe(e, n_show=8, n_eval=64, grid=8), 1, 0.0, e.drain())
        assert snap.engine == note


def test_the_bench_times_every_option():
    from ganviz.bench import OPTION_CHANGES, options

    assert {k for _, ch in OPTION_CHANGES for k in ch} >= {
        "update", "r1", "r2", "consensus", "instance_noise", "ema", "adam_beta1", "adam_beta2",
        "spectral_norm", "ttur"}
    # Adam at 1e-3: a run that diverged would pause the loop, and a timed window would wait on it
    table = options(small(hidden=8, batch_size=16, optimizer="adam", lr_d=1e-3, lr_g=1e-3), tiny=True)
    assert list(table) == [name for name, _ in OPTION_CHANGES]
    assert all(row["steps_per_s"] > 0 for row in table.values())
