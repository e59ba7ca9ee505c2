"""The batched engine: runs of one architecture trained as one stacked computation.

Members that share an architecture (:data:`ARCH_KEYS`) keep their weights as
rows of one (members, n) tensor per network; each layer of a forward or
backward pass is one batched matrix product over all members instead of one
per member, which is what makes several small runs cost little more than one
(a step of these tiny MLPs is mostly per-op overhead, docs/performance.md).
Learning rates, the loss, k, the optimizer, the clip and the penalty weight
stay each member's own.

Member i is the single run of its config, bit for bit on the CPU: the same
initial weights (the seed's), the same random stream (a member draws its
minibatches, noise and interpolation weights from its own generator in the
single engine's order; members whose streams would be identical share one
draw), and the same arithmetic:

- a batched matrix product is used for a shape only where it gives the
  single engine's numbers (checked once per shape and layout on random
  inputs: MKL's batched kernels agree with ``mm`` for most shapes, but not
  for a one-column product, which ``mm`` hands to a matrix-vector kernel);
  elsewhere the product runs member by member, exactly as the single engine's;
- the optimizers, the weight clipping and WGAN-GP's penalty run per member on
  that member's :class:`~ganviz.core.models.FlatMLP`, whose parameters are
  views of its row, with the single engine's code;
- transcendental elementwise terms (sigmoid, softplus) run on the stack only
  when the batch size keeps every member's elements inside the vectorised
  loop (a multiple of :data:`ALIGN`); otherwise member by member, since the
  scalar tail of a vectorised loop may round differently.

Each member is seen through a :class:`Member`, an engine of its own for
:func:`ganviz.core.loop.train` and :class:`ganviz.core.probe.Probe` (config,
G, D, counters, ``state()``/``load_state()`` in the single engine's numpy
layout, ``drain()``). Members train in lockstep: the first member that asks
for an iteration trains the whole batch; the others take their share.
"""

from __future__ import annotations

from collections import deque

import torch
import torch.nn.functional as F

from .. import losses
from ..config import Config, ConfigError
from ..data import make_target
from ..variants import ARCH_KEYS, arch_key, batchable, unimplemented
from ..models import SLOPE, FlatMLP, _leaky_relu_backward_into, make_models
from .device import resolve_device
from .fast import Engine
from .flat import ADAM_BETAS, ADAM_EPS, FlatAdam

#: Elements per member that keep a vectorised elementwise loop free of its scalar tail
#: (two AVX-512 vectors of float32 per iteration; a multiple of the AVX2 figure too).
ALIGN = 64


def batches(configs: list[Config]) -> list[list[int]]:
    """Indices of ``configs`` grouped by architecture, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):  # a member the stack cannot train exactly goes alone
        groups.setdefault(arch_key(c) if batchable(c) else ("single", i), []).append(i)
    return list(groups.values())


# --- exact batched products ---------------------------------------------------------

_EXACT: dict[tuple, bool] = {}


def _signature(kind: str, tensors, alpha) -> tuple:
    # Every call pays for this key: shapes and strides only (a few microseconds);
    # dtype and device once, from the first operand (all share them).
    t0 = tensors[0]
    return (kind, alpha is None, t0.dtype, t0.device,
            *[t.shape for t in tensors], *[t.stride() for t in tensors])


def _random_base(t: torch.Tensor) -> torch.Tensor:
    """Random memory large enough for a tensor of ``t``'s shape and strides (strides may be 0)."""
    size = 1 + sum((n - 1) * st for n, st in zip(t.shape, t.stride()))
    return torch.randn(size, dtype=t.dtype, device=t.device)


def _batched(kind: str, ts, alpha):
    if kind == "addmm":  # bias (M,1,o), x (M,n,i), w (M,i,o), out (M,n,o)
        return torch.baddbmm(ts[0], ts[1], ts[2], out=ts[3])
    if kind == "mm":  # a (M,n,i), b (M,i,o), out (M,n,o)
        return torch.bmm(ts[0], ts[1], out=ts[2])
    if kind == "addmm_":  # c (M,n,o) += alpha a @ b
        return ts[0].baddbmm_(ts[1], ts[2], alpha=alpha)
    if kind == "mv":  # A (M,r,c), v (M,c,1), out (M,r,1)
        return torch.bmm(ts[0], ts[1], out=ts[2])
    raise ValueError(kind)


def _looped(kind: str, ts, alpha):
    """The single engine's own call, member by member."""
    if kind == "addmm":
        for j in range(ts[1].shape[0]):
            torch.addmm(ts[0][j, 0], ts[1][j], ts[2][j], out=ts[3][j])
        return ts[3]
    if kind == "mm":
        for j in range(ts[0].shape[0]):
            torch.mm(ts[0][j], ts[1][j], out=ts[2][j])
        return ts[2]
    if kind == "addmm_":
        for j in range(ts[0].shape[0]):
            ts[0][j].addmm_(ts[1][j], ts[2][j], alpha=alpha)
        return ts[0]
    if kind == "mv":
        for j in range(ts[0].shape[0]):
            torch.mv(ts[0][j], ts[1][j, :, 0], out=ts[2][j, :, 0])
        return ts[2]
    raise ValueError(kind)


def exact_product(kind: str, *ts, alpha=None):
    """A batched matrix product that gives the single engine's ``mm`` numbers member by member.

    ``kind`` is ``addmm`` (bias, x, w, out), ``mm`` (a, b, out),
    ``addmm_`` (c, a, b; c += alpha a b) or ``mv`` (A, v as a column, out). The first call for a shape and
    layout compares the batched kernel with the per-member loop on random
    inputs of that shape and layout (twice); the batched one is used from
    then on only if it agreed bit for bit.
    """
    key = _signature(kind, ts, alpha)
    ok = _EXACT.get(key)
    if ok is None:
        ok = True
        with torch.inference_mode(False), torch.no_grad():
            for _ in range(2):
                bases = [_random_base(t) for t in ts]
                a = _batched(kind, [b.clone().as_strided(t.shape, t.stride())
                                    for b, t in zip(bases, ts)], alpha)
                b = _looped(kind, [b.clone().as_strided(t.shape, t.stride())
                                   for b, t in zip(bases, ts)], alpha)
                if not torch.equal(a, b):
                    ok = False
                    break
        _EXACT[key] = ok
    return (_batched if ok else _looped)(kind, ts, alpha)


# --- the stacked networks --------------------------------------------------------------


class StackedMLP:
    """Members' :class:`FlatMLP` networks as rows of one (members, n) tensor.

    Each member's ``FlatMLP`` is rebound to its row (:meth:`FlatMLP.bind`),
    so its module, its optimizer and its own passes keep working on the
    same memory. ``forward``/``backward`` are FlatMLP's with a leading member
    axis on every tensor.
    """

    def __init__(self, flats: list[FlatMLP]) -> None:
        self.flats = flats
        self.members = len(flats)
        self.params = torch.stack([f.params.detach() for f in flats])
        self.grad = torch.zeros_like(self.params)
        for j, f in enumerate(flats):
            f.bind(self.params[j], self.grad[j])
        self.layers: list[tuple] = []
        offset, M = 0, self.members
        for w0, *_, transposed in flats[0].layers:
            n_out, n_in = w0.shape
            size = n_out * n_in
            p_w, g_w = self.params[:, offset:offset + size], self.grad[:, offset:offset + size]
            offset += size
            p_b, g_b = self.params[:, offset:offset + n_out], self.grad[:, offset:offset + n_out]
            offset += n_out
            if transposed:
                w, g_store = p_w.view(M, n_in, n_out).transpose(1, 2), g_w.view(M, n_in, n_out)
            else:
                w, g_store = p_w.view(M, n_out, n_in), g_w.view(M, n_out, n_in)
            self.layers.append((w, w.transpose(1, 2), p_b.unsqueeze(1), g_store, g_b, transposed))
        self._bufs: dict[int, tuple[list, list]] = {}

    def _buffers(self, n: int):
        bufs = self._bufs.get(n)
        if bufs is None:
            if len(self._bufs) >= 4:
                self._bufs.clear()
            kw = dict(dtype=self.params.dtype, device=self.params.device)
            with torch.inference_mode(False):
                outs = [torch.empty(self.members, n, w.shape[1], **kw) for w, *_ in self.layers]
                grads = [torch.empty(self.members, n, w.shape[2], **kw) for w, *_ in self.layers]
            bufs = self._bufs[n] = (outs, grads)
        return bufs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[0]

    def forward(self, x: torch.Tensor):
        """(M, n, out) output and the activations [input, h1, ..., output] for (M, n, in) ``x``."""
        outs = self._buffers(x.shape[1])[0]
        acts = [x]
        last = len(self.layers) - 1
        for i, (_, wt, b, _, _, _) in enumerate(self.layers):
            x = exact_product("addmm", b, x, wt, outs[i])
            if i < last:
                x = F.leaky_relu_(x, SLOPE)
            acts.append(x)
        return x, acts

    def backward(self, d_out, acts, weights: bool = True, inputs: bool = False):
        """FlatMLP.backward with a member axis: (M, n, out) ``d_out``; gradients into ``grad`` rows."""
        grads = self._buffers(d_out.shape[1])[1]
        d = d_out
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            w, _, _, g_store, g_b, transposed = self.layers[i]
            if i < last:
                d = _leaky_relu_backward_into(d, acts[i + 1], SLOPE, True, grad_input=d)
            if weights:
                h = acts[i]
                if transposed:
                    exact_product("mm", h.transpose(1, 2), d, g_store)
                else:
                    exact_product("mm", d.transpose(1, 2), h, g_store)
                torch.sum(d, 1, out=g_b)
            if i > 0 or inputs:
                if w.shape[1] == 1:
                    d = torch.mul(d, w, out=grads[i])
                else:
                    d = exact_product("mm", d, w, grads[i])
            else:
                d = None
        return d


def _halves(m: int, like: torch.Tensor) -> torch.Tensor:
    rows = torch.zeros(2, 2 * m, device=like.device, dtype=like.dtype)
    rows[0, :m] = rows[1, m:] = 1.0 / m
    return rows


class _Stream:
    """One random generator and the members whose single runs would draw the same numbers from it."""

    def __init__(self, generator: torch.Generator, members: list[int]) -> None:
        self.generator, self.members = generator, members


class BatchedEngine:
    """Several runs of one architecture trained as one stacked computation.

    Parameters
    ----------
    configs : list of Config
        The members; all must agree on :data:`ARCH_KEYS` (ConfigError otherwise).

    Attributes
    ----------
    members : list of Member
        Each member as an engine of its own (see the module docstring).
    step : int
        Iterations the batch has trained.
    """

    def __init__(self, configs: list[Config]) -> None:
        if not configs:
            raise ConfigError("a batch needs at least one member")
        for c in configs:
            if not batchable(c):  # never a silently different algorithm
                raise ConfigError(f"{', '.join(unimplemented(c))} "
                                  "is not batched; that run trains as a single engine")
        keys = {arch_key(c) for c in configs}
        if len(keys) > 1:
            raise ConfigError(f"members of a batch must agree on {', '.join(ARCH_KEYS)}; "
                              "put the others in batches of their own")
        c0 = configs[0]
        self.device = resolve_device(c0.device)
        self.target = make_target(c0.data)
        self.batch_size, self.z_dim = c0.batch_size, c0.z_dim
        gs, ds = [], []
        for c in configs:
            with torch.random.fork_rng(devices=[]):  # as _Run: the seed's initial weights
                torch.manual_seed(c.seed)
                G, D = make_models(self.target.dim, c.z_dim, c.hidden, c.layers)
            gs.append(G.to(self.device))
            ds.append(D.to(self.device))
        self.Gs = StackedMLP([FlatMLP(G) for G in gs])
        self.Ds = StackedMLP([FlatMLP(D) for D in ds])
        streams: dict[int, _Stream] = {}
        for j, c in enumerate(configs):
            if c.seed not in streams:
                streams[c.seed] = _Stream(
                    torch.Generator(device=self.device).manual_seed(c.seed), [])
            streams[c.seed].members.append(j)
        self.streams = list(streams.values())
        self.members = [Member(self, j, c, gs[j], ds[j], self.Gs.flats[j], self.Ds.flats[j])
                        for j, c in enumerate(configs)]
        self.step = 0
        self._aligned = self.batch_size % ALIGN == 0
        halves = _halves(self.batch_size, self.Ds.params)
        self._halves_stack = halves.unsqueeze(0).expand(len(configs), *halves.shape)
        self._means = torch.empty(len(configs), 2, 1, dtype=halves.dtype, device=self.device)
        self._settled = False  # a change that may split a shared stream has come

    # --- random streams --------------------------------------------------------

    def _stream_of(self, j: int) -> _Stream:
        for s in self.streams:
            if j in s.members:
                return s
        raise KeyError(j)

    def _draw_kind(self, j: int) -> tuple:
        m = self.members[j]
        return (m._d_steps(), losses.get(m.config.loss).gradient_penalty)

    def _split(self, j: int) -> None:
        """Give member ``j`` a stream of its own (a copy of its generator's state)."""
        s = self._stream_of(j)
        if len(s.members) == 1:
            return
        s.members.remove(j)
        gen = torch.Generator(device=self.device)
        gen.set_state(s.generator.get_state())
        self.streams.append(_Stream(gen, [j]))

    def _settle_streams(self) -> None:
        """Split a shared stream whose members would now draw different numbers (k, the penalty)."""
        if self._settled:
            return
        self._settled = True
        for s in list(self.streams):
            kinds: dict[tuple, list[int]] = {}
            for j in s.members:
                kinds.setdefault(self._draw_kind(j), []).append(j)
            for group in list(kinds.values())[1:]:
                gen = torch.Generator(device=self.device)
                gen.set_state(s.generator.get_state())
                for j in group:
                    s.members.remove(j)
                self.streams.append(_Stream(gen, group))

    # --- Algorithm 1 ----------------------------------------------------------

    def train_step(self) -> None:
        """One iteration of every member: its k D steps, then one G step.

        Members with a smaller k sit out the later D steps (their updates are
        skipped). Each member's scalars wait in its queue until it takes them
        (:meth:`Member.train_step`).
        """
        self._settle_streams()
        M, m, dev = len(self.members), self.batch_size, self.device
        ks = [mem._d_steps() for mem in self.members]
        K = max(ks)
        with torch.inference_mode():
            draws: list = [None] * M
            for s in self.streams:
                k, gp = self._draw_kind(s.members[0])
                gen = s.generator
                d = [(self.target.sample(m, gen, dev),
                      torch.randn(m, self.z_dim, generator=gen, device=dev),
                      torch.rand(m, 1, generator=gen, device=dev) if gp else None)
                     for _ in range(k)]
                z_g = torch.randn(m, self.z_dim, generator=gen, device=dev)
                for j in s.members:
                    draws[j] = (d, z_g)
            shared = len(self.streams) == 1
            loss_d = torch.empty(M, dtype=self.Ds.params.dtype, device=dev)
            means = torch.empty(M, 2, dtype=self.Ds.params.dtype, device=dev)
            gn_d = torch.empty(M, dtype=self.Ds.params.dtype, device=dev)
            for i in range(K):
                picks = [draws[j][0][min(i, ks[j] - 1)] for j in range(M)]
                real, z = self._stack([p[0] for p in picks], shared), self._stack([p[1] for p in picks], shared)
                active = [ks[j] > i for j in range(M)]
                stats = [ks[j] - 1 == i for j in range(M)]
                self._d_update(real, self.Gs(z), [p[2] for p in picks], active, stats,
                               (loss_d, means, gn_d))
            z_g = self._stack([draws[j][1] for j in range(M)], shared)
            loss_g, gn_g = self._g_update(z_g)
            rows = torch.cat([torch.stack([loss_d, loss_g, gn_g, gn_d], 1), means], 1)
        for j, mem in enumerate(self.members):
            dk = ks[j] if "d" not in mem.frozen else 0
            dg = 1 if "g" not in mem.frozen else 0
            mem._queue.append((rows[j], dk, dg))
        self.step += 1

    def d_step(self) -> None:
        """One D update of every member alone (Step D), as the single engine's ``d_step``.

        Each member draws its real batch, noise and (for a penalty)
        interpolation weights from its stream, in the single engine's order.
        """
        self._single("d")

    def g_step(self) -> None:
        """One G update of every member alone (Step G), as the single engine's ``g_step``."""
        self._single("g")

    def _single(self, kind: str) -> None:
        self._settle_streams()
        M, m, dev = len(self.members), self.batch_size, self.device
        with torch.inference_mode():
            draws: list = [None] * M
            for s in self.streams:
                gp = self._draw_kind(s.members[0])[1]
                gen = s.generator
                if kind == "d":
                    draw = (self.target.sample(m, gen, dev),
                            torch.randn(m, self.z_dim, generator=gen, device=dev),
                            torch.rand(m, 1, generator=gen, device=dev) if gp else None)
                else:
                    draw = torch.randn(m, self.z_dim, generator=gen, device=dev)
                for j in s.members:
                    draws[j] = draw
            shared = len(self.streams) == 1
            if kind == "d":
                real = self._stack([d[0] for d in draws], shared)
                z = self._stack([d[1] for d in draws], shared)
                none = [False] * M
                self._d_update(real, self.Gs(z), [d[2] for d in draws], [True] * M, none, None)
            else:
                self._g_update(self._stack(draws, shared))
        for mem in self.members:
            mem._singles.append(kind)

    def _stack(self, parts: list, shared: bool) -> torch.Tensor:
        if shared:
            return parts[0].unsqueeze(0).expand(len(parts), *parts[0].shape)
        return torch.stack(parts)

    def _loss_fns(self) -> list:
        return [losses.get(mem.config.loss) for mem in self.members]

    def _terms(self, logits: torch.Tensor, fns: list, which: str) -> torch.Tensor:
        """``fn.<which>`` of each member's (n, 1) logits, stacked (M, n, 1)."""
        if self._aligned and all(f is fns[0] for f in fns):
            return getattr(fns[0], which)(logits)
        return torch.stack([getattr(f, which)(logits[j]) for j, f in enumerate(fns)])

    def _d_update(self, real, fake, eps, active, stats, out) -> None:
        """One D step of every member (the single engine's ``_d_update``, stacked)."""
        M, m = len(self.members), self.batch_size
        fns = self._loss_fns()
        x = torch.cat([real, fake], 1)
        logits, acts = self.Ds.forward(x)
        real_l, fake_l = logits[:, :m], logits[:, m:]
        d_logits = torch.cat([self._terms(real_l, fns, "d_real_grad"),
                              self._terms(fake_l, fns, "d_fake_grad")], 1).div_(m)
        self.Ds.backward(d_logits, acts, weights=True, inputs=False)
        want = [j for j in range(M) if stats[j]]  # none for a single step (Step D)
        if want:
            loss = (self._terms(real_l, fns, "d_real").mean((1, 2))
                    + self._terms(fake_l, fns, "d_fake").mean((1, 2)))
            drawn = self._terms(logits, fns, "drawn")
            mean = exact_product("mv", self._halves_stack, drawn.view(M, -1, 1), self._means)
            mean = mean.view(M, 2)
        for j, f in enumerate(fns):
            if f.gradient_penalty and (active[j] or stats[j]):
                c = self.members[j].config
                x_hat = eps[j] * real[j] + (1 - eps[j]) * fake[j]
                penalty = self.Ds.flats[j].gradient_penalty(x_hat, c.gp_weight)
                if stats[j]:
                    loss[j] = loss[j] + c.gp_weight * penalty
        if want:
            loss_d, means, gn_d = out
            norms = torch.linalg.vector_norm(self.Ds.grad, dim=1)
            if len(want) == M:
                loss_d.copy_(loss)
                means.copy_(mean)
                gn_d.copy_(norms)
            else:
                for j in want:
                    loss_d[j], means[j], gn_d[j] = loss[j], mean[j], norms[j]
        updated = [j for j, mem in enumerate(self.members) if active[j] and "d" not in mem.frozen]
        step_optimizers([self.members[j].opt_d for j in updated])
        for j in updated:
            if fns[j].clip_weights:
                mem = self.members[j]
                mem.Df.params.clamp_(-mem.config.clip, mem.config.clip)

    def _g_update(self, z_g) -> tuple[torch.Tensor, torch.Tensor]:
        """One G step of every member; returns (M,) losses and gradient norms."""
        m = self.batch_size
        fns = self._loss_fns()
        fake, g_acts = self.Gs.forward(z_g)
        logits, d_acts = self.Ds.forward(fake)
        d_logits = self._terms(logits, fns, "g_fake_grad").div(m)
        loss = self._terms(logits, fns, "g_fake").mean((1, 2))
        d_fake = self.Ds.backward(d_logits, d_acts, weights=False, inputs=True)
        self.Gs.backward(d_fake, g_acts, weights=True, inputs=False)
        grad_norm = torch.linalg.vector_norm(self.Gs.grad, dim=1)
        step_optimizers([mem.opt_g for mem in self.members if "g" not in mem.frozen])
        return loss, grad_norm


def step_optimizers(optimizers: list) -> None:
    """Step members' optimizers; fused Adams of one learning rate in one multi-tensor call.

    ``torch._fused_adam_`` treats each tensor of its lists on its own (its own
    step count, the same kernel as for one), so one call for several members
    gives each member's numbers and saves a call per member.
    """
    groups: dict[float, list] = {}
    for opt in optimizers:
        if isinstance(opt, FlatAdam) and opt.fused:
            groups.setdefault(opt.param_groups[0]["lr"], []).append(opt)
        else:
            opt.step()
    b1, b2 = ADAM_BETAS
    for lr, group in groups.items():
        if len(group) == 1:
            group[0].step()
            continue
        steps = [o._step_t for o in group]
        for o in group:
            o.steps += 1
        torch._foreach_add_(steps, 1)
        torch._fused_adam_([o.params for o in group], [o.grad for o in group],
                           [o.exp_avg for o in group], [o.exp_avg_sq for o in group], [], steps,
                           lr=lr, beta1=b1, beta2=b2, weight_decay=0.0, eps=ADAM_EPS,
                           amsgrad=False, maximize=False)


class Member(Engine):
    """One member of a :class:`BatchedEngine`, seen as an engine of its own.

    Its G and D are ``nn.Module`` networks whose parameters are views of its
    rows of the stack; ``state()``, ``load_state()``, ``apply()``,
    ``freeze()``, ``drain()`` and ``last_finite()`` are the single engine's.
    ``train_step()``, ``d_step()`` and ``g_step()`` take this member's next
    iteration or single update, the whole batch training when it is the first
    to ask for it.
    """

    def __init__(self, batch: BatchedEngine, index: int, config: Config, G, D, Gf, Df) -> None:
        self.batch, self.index = batch, index
        self.config = config
        self.device, self.target = batch.device, batch.target
        self.G, self.D, self.Gf, self.Df = G, D, Gf, Df
        self.g_params, self.d_params = list(G.parameters()), list(D.parameters())
        self._consts: dict = {}
        self._optimizers_built = 0
        self._graph = None
        self._build_optimizers()
        self.step = self.d_updates = self.g_updates = 0
        self.frozen: frozenset[str] = frozenset()
        self._stats: list = []
        self._last_d = None
        self._queue: deque = deque()
        self._singles: deque = deque()  # single D or G updates the batch made for this member

    @property
    def rng(self) -> torch.Generator:
        """The generator this member draws from (shared with members that draw the same)."""
        return self.batch._stream_of(self.index).generator

    def apply(self, changes: dict) -> Config:
        """Hot changes as the single engine's; the batch size shapes the stack and is refused."""
        if "batch_size" in changes and int(changes["batch_size"]) != self.config.batch_size:
            raise ConfigError("batch_size cannot change in a batched run (it shapes the stack); "
                              "restart the comparison")
        if not batchable(self.config.replace(**changes)):
            raise ConfigError("update rules and regularisers are not batched; restart the "
                              "comparison with the member as a run of its own")
        config = super().apply(changes)
        self.batch._settled = False  # k or the loss may change what it draws
        return config

    def freeze(self, d: bool | None = None, g: bool | None = None) -> None:
        super().freeze(d, g)
        self.batch._settled = False  # a frozen D draws for one step, not k

    def load_state(self, state: dict) -> None:
        self.batch._split(self.index)  # its stream may now differ from the others'
        super().load_state(state)
        self.batch._settled = False

    def train_step(self) -> None:
        """This member's next iteration (the batch trains when none is waiting)."""
        if not self._queue:
            self.batch.train_step()
        row, dk, dg = self._queue.popleft()
        self._stats.append(row)
        self.step += 1
        self.d_updates += dk
        self.g_updates += dg

    def d_step(self) -> None:
        """This member's single D update (the batch makes every member's when none waits)."""
        self._take_single("d")
        if "d" not in self.frozen:
            self.d_updates += 1

    def g_step(self) -> None:
        """This member's single G update (the batch makes every member's when none waits)."""
        self._take_single("g")
        if "g" not in self.frozen:
            self.g_updates += 1

    def _take_single(self, kind: str) -> None:
        if not self._singles:
            getattr(self.batch, f"{kind}_step")()
        done = self._singles.popleft()
        if done != kind:  # members take their steps in one order: this would be a bug
            raise RuntimeError(f"member {self.index} asked for a {kind} step, the batch made {done}")
