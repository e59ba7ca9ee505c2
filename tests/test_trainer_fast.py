"""The fast engine computes what the straightforward one does.

``Engine`` (flat parameters, hand-written forward and backward passes, flat
optimizers) against ``ReferenceEngine`` (modules, autograd, torch.optim), same
config and seed, for every loss, k in {1, 3} and every optimizer.

In float64 the two agree to 1e-9: the maths is the same. In float32 (what the
app runs) they agree to rounding, which training then amplifies: Adam and
RMSprop divide by sqrt(v), so a gradient component near zero whose rounding
differs moves a weight by up to the learning rate in either engine. The float32
comparison is therefore short and its tolerance looser.
"""

import itertools

import numpy as np
import pytest
import torch

from ganviz.core.config import LOSS_NAMES, Config
from ganviz.core.trainer import (
    STEP_STATS,
    Engine,
    FlatAdam,
    FlatRMSprop,
    FlatSGD,
    ReferenceEngine,
    make_optimizer,
)
from ganviz.core.models import MLP, FlatMLP

LOSSES = LOSS_NAMES  # every loss in the registry
OPTIMIZERS = ("sgd", "adam", "rmsprop")
SMALL = dict(data="ring8", hidden=32, batch_size=64, seed=3)


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def config(loss, k, optimizer, **kw):
    lr = 1e-2 if optimizer == "sgd" else 1e-3
    return Config(**{**SMALL, **kw}, loss=loss, k=k, optimizer=optimizer, lr_d=lr, lr_g=lr)


def train_both(c, steps):
    fast, ref = Engine(c), ReferenceEngine(c)
    for _ in range(steps):
        fast.train_step()
        ref.train_step()
    return fast, ref


def assert_same_run(fast, ref, rtol, atol, weights_atol=None):
    a, b = fast.drain(), ref.drain()
    np.testing.assert_array_equal(a["step"], b["step"])
    for name in STEP_STATS:
        np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=atol, err_msg=name)
    for net in ("G", "D"):
        sa, sb = fast.state()[net], ref.state()[net]
        assert list(sa) == list(sb)
        for key in sa:
            np.testing.assert_allclose(
                sa[key], sb[key], rtol=rtol, atol=weights_atol or atol, err_msg=key
            )
    assert (fast.step, fast.d_updates, fast.g_updates) == (ref.step, ref.d_updates, ref.g_updates)


@pytest.mark.parametrize(
    "loss,k,optimizer", list(itertools.product(LOSSES, (1, 3), OPTIMIZERS))
)
def test_same_run_in_float64(float64, loss, k, optimizer):
    fast, ref = train_both(config(loss, k, optimizer), steps=30)
    assert fast.Df.params.dtype == torch.float64
    assert_same_run(fast, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "loss,k,optimizer", list(itertools.product(LOSSES, (1, 3), OPTIMIZERS))
)
def test_same_run_in_float32(loss, k, optimizer):
    fast, ref = train_both(config(loss, k, optimizer), steps=10)
    assert fast.Df.params.dtype == torch.float32
    # A rounding-level gradient can move a weight by 10 lr in RMSprop's first
    # steps (lr / sqrt(1 - alpha)), by lr in Adam's: weights get that slack.
    assert_same_run(fast, ref, rtol=2e-3, atol=1e-5, weights_atol=1e-3)


@pytest.mark.parametrize("data,z_dim,layers", [("gaussian", 1, 1), ("spiral", 3, 3)])
def test_same_run_other_shapes(float64, data, z_dim, layers):
    """1-D data, 1-D noise, one and three hidden layers: every layout of FlatMLP."""
    c = config("nonsaturating", 2, "adam", data=data, z_dim=z_dim, layers=layers, hidden=24)
    assert_same_run(*train_both(c, steps=15), rtol=1e-9, atol=1e-12)


def test_hot_changes_mid_run_stay_the_same(float64):
    fast, ref = train_both(config("nonsaturating", 1, "adam"), steps=8)
    for changes in (
        {"lr_d": 3e-3, "k": 2},
        {"loss": "wgan", "clip": 0.05},
        {"optimizer": "rmsprop", "batch_size": 48},
        {"loss": "wgan-gp", "gp_weight": 5.0, "optimizer": "sgd", "lr": 1e-2},
        {"loss": "minimax", "k": 1},
    ):
        fast.apply(changes)
        ref.apply(changes)
        for _ in range(6):
            fast.train_step()
            ref.train_step()
    assert_same_run(fast, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_single_d_and_g_steps_match(float64, loss):
    c = config(loss, 1, "adam")
    fast, ref = Engine(c), ReferenceEngine(c)
    for e in (fast, ref):
        e.d_step()
        e.d_step()
    np.testing.assert_allclose(fast._last_d[0].item(), ref._last_d[0].item(), rtol=1e-9)
    np.testing.assert_allclose(fast._last_d[2].item(), ref._last_d[3].item(), rtol=1e-9)
    lf, gf = fast.g_step()
    lr_, gr = ref.g_step()
    np.testing.assert_allclose([lf.item(), gf.item()], [lr_.item(), gr.item()], rtol=1e-9)
    for a, b in zip(fast.G.parameters(), ref.G.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_state_moves_between_engines():
    c = config("nonsaturating", 1, "adam")
    fast, ref = Engine(c), ReferenceEngine(c.replace(seed=9))
    for _ in range(3):
        fast.train_step()
    state = fast.state()
    for net in state.values():
        assert all(isinstance(a, np.ndarray) and a.flags.c_contiguous for a in net.values())
    ref.load_state(state)
    z = torch.randn(100, c.z_dim)
    torch.testing.assert_close(ref.G(z), fast.G(z))
    # And back: the fast engine's flat tensors take the weights.
    fast2 = Engine(c.replace(seed=5))
    fast2.load_state(ref.state())
    torch.testing.assert_close(fast2.Gf(z), fast.G(z))
    torch.testing.assert_close(fast2.D(z[:, :2]), ref.D(z[:, :2]))


def test_modules_stay_modules_over_the_flat_tensors():
    """G and D are what the probe calls: plain modules, autograd to the input works."""
    e = Engine(config("nonsaturating", 1, "adam"))
    z = torch.randn(50, 2)
    with torch.no_grad():
        before = e.G(z)
    torch.testing.assert_close(before, e.Gf(z))
    e.train_step()  # updates the flat tensors in place ...
    with torch.no_grad():
        after = e.G(z)
    assert not torch.equal(before, after)  # ... and the modules see it
    torch.testing.assert_close(after, e.Gf(z))
    x = torch.randn(30, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(e.D(x).sum(), x)
    assert grad.shape == (30, 2) and torch.isfinite(grad).all()
    for p in e.G.parameters():
        assert p.untyped_storage().data_ptr() == e.Gf.params.untyped_storage().data_ptr()


@pytest.mark.parametrize("n_in,n_out,hidden,layers", [(2, 1, 16, 2), (2, 2, 8, 1), (5, 3, 4, 3), (1, 1, 6, 2)])
def test_flat_mlp_backward_equals_autograd(float64, n_in, n_out, hidden, layers):
    torch.manual_seed(0)
    mlp = MLP(n_in, n_out, hidden, layers)
    ref = [p.detach().clone() for p in mlp.parameters()]
    flat = FlatMLP(mlp)
    for p, r in zip(mlp.parameters(), ref):
        torch.testing.assert_close(p, r, rtol=0, atol=0)  # values kept
    x = torch.randn(40, n_in, requires_grad=True)
    d_out = torch.randn(40, n_out)
    out = mlp(x)
    grads = torch.autograd.grad(out, [x] + list(mlp.parameters()), d_out)
    with torch.no_grad():
        y, acts = flat.forward(x.detach())
        d_x = flat.backward(d_out, acts, weights=True, inputs=True)
    torch.testing.assert_close(y, out.detach())
    torch.testing.assert_close(d_x, grads[0])
    for view, g in zip(flat.grad_views(), grads[1:]):
        torch.testing.assert_close(view, g)
    with torch.no_grad():
        assert flat.backward(d_out, flat.forward(x.detach())[1], weights=False) is None


@pytest.mark.parametrize("name,cls", [("sgd", FlatSGD), ("adam", FlatAdam), ("rmsprop", FlatRMSprop)])
@pytest.mark.parametrize("fused", [True, False])
def test_flat_optimizers_equal_torch_optim(float64, name, cls, fused):
    if fused and name != "adam":
        pytest.skip("only Adam has a fused path")
    torch.manual_seed(1)
    mlp = MLP(2, 1, 8, 2)
    twin = MLP(2, 1, 8, 2)
    twin.load_state_dict(mlp.state_dict())
    flat = FlatMLP(mlp)
    opt = cls(flat, lr=0.01)
    if name == "adam":
        if fused and not opt.fused:
            pytest.skip("this torch has no fused Adam for the CPU")
        opt.fused = fused
    ref = make_optimizer(name, list(twin.parameters()), 0.01)
    for step in range(5):
        grads = [torch.randn_like(p) for p in twin.parameters()]
        for p, g in zip(twin.parameters(), grads):
            p.grad = g
        for view, g in zip(flat.grad_views(), grads):
            view.copy_(g)
        if step == 3:
            opt.param_groups[0]["lr"] = ref.param_groups[0]["lr"] = 0.003
        opt.step()
        ref.step()
        for a, b in zip(mlp.parameters(), twin.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_same_run_on_cuda():
    c = config("nonsaturating", 1, "adam", device="cuda")
    fast, ref = train_both(c, steps=10)
    assert fast.device.type == "cuda"
    assert_same_run(fast, ref, rtol=2e-3, atol=1e-5, weights_atol=1e-3)


@pytest.mark.parametrize("n_in,hidden,layers", [(2, 16, 2), (1, 8, 1), (2, 1, 3), (3, 6, 3)])
def test_flat_gradient_penalty_equals_autograd(float64, n_in, hidden, layers):
    """The hand-derived WGAN-GP gradient against autograd's double backward."""
    from ganviz.core.losses import gradient_penalty

    torch.manual_seed(2)
    critic = MLP(n_in, 1, hidden, layers)
    real, fake, eps = torch.randn(30, n_in), torch.randn(30, n_in), torch.rand(30, 1)
    penalty = gradient_penalty(critic, real, fake, eps)
    params = list(critic.parameters())
    grads = torch.autograd.grad(3.0 * penalty, params, allow_unused=True)
    # The biases only move the piecewise-constant slopes: no gradient (None from autograd).
    grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
    flat = FlatMLP(critic)
    flat.grad.fill_(0.5)  # the penalty's gradient is added to what is there
    with torch.no_grad():
        got = flat.gradient_penalty(eps * real + (1 - eps) * fake, 3.0)
    torch.testing.assert_close(got, penalty.detach())
    for view, g in zip(flat.grad_views(), grads):
        torch.testing.assert_close(view, g + 0.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_graph_gives_the_eager_numbers(monkeypatch):
    """On CUDA the iteration is captured in a graph after a warm-up; same run as eager."""
    c = config("nonsaturating", 2, "adam", device="cuda")
    graphed = Engine(c)
    monkeypatch.setenv("GANVIZ_CUDA_GRAPH", "0")
    eager = Engine(c)
    assert graphed._graph is not None and eager._graph is None
    for changes in ({}, {"lr_d": 2e-3, "k": 1}, {"loss": "wgan-gp", "optimizer": "rmsprop"}):
        graphed.apply(changes)
        eager.apply(changes)
        for _ in range(8):
            graphed.train_step()
            eager.train_step()
        assert graphed._graph is not None and graphed._graph.graph is not None  # captured, still on
    assert_same_run(graphed, eager, rtol=1e-5, atol=1e-7, weights_atol=1e-5)


def test_no_cuda_graph_on_the_cpu():
    assert Engine(config("nonsaturating", 1, "adam", device="cpu"))._graph is None
