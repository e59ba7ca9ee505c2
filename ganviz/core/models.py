"""MLP generator and discriminator (critic) for 1-D and 2-D toy targets.

:class:`MLP` is a plain ``nn.Module``: it is what the probe, the views and any
user code call (``G(z)``, ``D(x)``), and what ``state_dict()`` describes.
:class:`FlatMLP` is the fast engine's view of the same network: all its
parameters (and their gradients) live in one flat tensor, and it runs the
forward and the backward pass with a handful of matrix ops and no autograd
graph. For these tiny networks the time of a step is mostly per-op overhead,
not arithmetic (docs/performance.md), so fewer ops is what makes training fast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: LeakyReLU slope: keeps a gradient for every unit, so no dead ReLUs in a toy net.
SLOPE = 0.2

# leaky_relu_backward has no torch.* binding; the overload's raw builtin skips the
# Python layers of torch.ops (3 us a call).
_leaky_relu_backward_into = torch.ops.aten.leaky_relu_backward.grad_input
_leaky_relu_backward_into = getattr(_leaky_relu_backward_into, "_op", _leaky_relu_backward_into)


class MLP(nn.Module):
    """``layers`` hidden layers of width ``hidden`` with LeakyReLU(0.2), then a linear head.

    Parameters
    ----------
    n_in, n_out : int
        Input and output sizes.
    hidden : int
        Width of each hidden layer.
    layers : int
        Number of hidden layers (>= 1).
    """

    def __init__(self, n_in: int, n_out: int, hidden: int, layers: int) -> None:
        super().__init__()
        sizes = [n_in] + [hidden] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.head = nn.Linear(sizes[-1], n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.hidden:
            x = F.leaky_relu(layer(x), SLOPE)
        return self.head(x)

    def linears(self) -> list[nn.Linear]:
        """The linear layers in order, the head last."""
        return list(self.hidden) + [self.head]


def make_models(dim: int, z_dim: int, hidden: int, layers: int) -> tuple[MLP, MLP]:
    """Generator z (z_dim) -> x (dim) and discriminator x (dim) -> logit (1)."""
    return MLP(z_dim, dim, hidden, layers), MLP(dim, 1, hidden, layers)


class FlatMLP:
    """An :class:`MLP`'s parameters in one flat tensor, with a hand-written forward and backward.

    Creating it moves the module's parameters into ``self.params`` (values
    kept): each ``nn.Parameter`` of ``mlp`` becomes a view of it, so the module
    still works as before (``mlp(x)``, ``state_dict()``, ``load_state_dict()``
    write through to the flat tensor) and an optimizer updates every layer with
    a few ops on ``params`` and ``grad``.

    A layer whose input is narrower than its output (the first layer, 2 -> 128)
    is stored transposed, as (in, out). With the usual (out, in) layout the
    weight gradient ``d.T @ x`` of a (128, 2) weight takes 80 us in MKL on this
    CPU instead of 11 us for ``x.T @ d``; the transposed layer and its gradient
    keep every matrix product on a fast path.

    Parameters
    ----------
    mlp : MLP
        The network; must already be on its final device.
    """

    def __init__(self, mlp: MLP) -> None:
        linears = mlp.linears()
        ref = linears[0].weight
        total = sum(l.weight.numel() + l.bias.numel() for l in linears)
        self.module = mlp
        self.bind(torch.empty(total, dtype=ref.dtype, device=ref.device),
                  torch.zeros(total, dtype=ref.dtype, device=ref.device))

    def bind(self, params: torch.Tensor, grad: torch.Tensor) -> None:
        """Move the module's parameters into ``params`` (values kept) and its gradients to ``grad``.

        Both are (n,) tensors with n the parameter count, e.g. one row of a
        batched engine's (members, n) stack; the layout inside is the same
        wherever they live, so a state saved from one reads into the other.
        """
        self.params, self.grad = params, grad
        self.layers: list[tuple] = []  # (W (out,in), W.T (in,out), b, grad store, grad b, transposed)
        offset = 0
        for lin in self.module.linears():
            n_out, n_in = lin.weight.shape
            transposed = n_in < n_out
            size = n_out * n_in
            p_w, g_w = self.params[offset : offset + size], self.grad[offset : offset + size]
            offset += size
            p_b, g_b = self.params[offset : offset + n_out], self.grad[offset : offset + n_out]
            offset += n_out
            if transposed:
                w, g_store = p_w.view(n_in, n_out).t(), g_w.view(n_in, n_out)
            else:
                w, g_store = p_w.view(n_out, n_in), g_w.view(n_out, n_in)
            with torch.no_grad():
                w.copy_(lin.weight)
                p_b.copy_(lin.bias)
            lin.weight.data = w
            lin.bias.data = p_b
            self.layers.append((w, w.t(), p_b, g_store, g_b, transposed))
        self._bufs: dict[int, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
        self._ones: dict[int, torch.Tensor] = {}

    def _buffers(self, n: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-layer output and input-gradient buffers for ``n`` rows, made once.

        Every step writes into the same memory (``out=``), which stays in the
        caches; a new allocation per op was 2% slower (docs/performance.md).
        """
        bufs = self._bufs.get(n)
        if bufs is None:
            if len(self._bufs) >= 4:  # the batch size changed: forget old sizes
                self._bufs.clear()
            kw = dict(dtype=self.params.dtype, device=self.params.device)
            with torch.inference_mode(False):  # plain tensors, usable in and out of inference mode
                outs = [torch.empty(n, w.shape[0], **kw) for w, *_ in self.layers]
                grads = [torch.empty(n, w.shape[1], **kw) for w, *_ in self.layers]
            bufs = self._bufs[n] = (outs, grads)
        return bufs

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The output only (as ``mlp(x)`` under no_grad, in fewer ops).

        The result lives in this object's buffers: it is overwritten by the
        next call or :meth:`forward` on as many rows.
        """
        return self.forward(x)[0]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Output and the activations the backward pass needs: [input, h1, ..., output].

        Like :meth:`__call__`, they live in buffers reused by the next call on as many rows.
        """
        outs = self._buffers(x.shape[0])[0]
        acts = [x]
        last = len(self.layers) - 1
        for i, (_, wt, b, _, _, _) in enumerate(self.layers):
            x = torch.addmm(b, x, wt, out=outs[i])
            if i < last:
                # In place: the backward reads the sign from the result (slope > 0).
                x = F.leaky_relu_(x, SLOPE)
            acts.append(x)
        return x, acts

    def backward(
        self, d_out: torch.Tensor, acts: list[torch.Tensor], weights: bool = True, inputs: bool = False
    ) -> torch.Tensor | None:
        """Backpropagate ``d_out`` (dL/d output) through the net.

        Parameters
        ----------
        d_out : torch.Tensor
            (n, n_out) gradient of the loss with respect to the output; not modified.
        acts : list of torch.Tensor
            From :meth:`forward`, with no parameter change since.
        weights : bool
            Write dL/d parameters into ``self.grad`` (overwriting it).
        inputs : bool
            Return dL/d input (n, n_in), in a buffer reused by the next backward
            on as many rows; otherwise return None and skip that product.
        """
        grads = self._buffers(d_out.shape[0])[1]
        d = d_out
        last = len(self.layers) - 1
        for i in range(last, -1, -1):
            w, _, _, g_store, g_b, transposed = self.layers[i]
            if i < last:
                # In place: d is the product of the layer above, in our buffer.
                d = _leaky_relu_backward_into(d, acts[i + 1], SLOPE, True, grad_input=d)
            if weights:
                h = acts[i]
                if transposed:
                    torch.mm(h.t(), d, out=g_store)
                else:
                    torch.mm(d.t(), h, out=g_store)
                torch.sum(d, 0, out=g_b)
            if i > 0 or inputs:
                if w.shape[0] == 1:
                    # A one-output layer's input gradient is an outer product: a broadcast
                    # multiply is the same numbers, faster than a K=1 matrix product.
                    d = torch.mul(d, w, out=grads[i])
                else:
                    d = torch.mm(d, w, out=grads[i])
            else:
                d = None
        return d

    def gradient_penalty(self, x: torch.Tensor, weight: float, centre: float = 1.0) -> torch.Tensor:
        """The penalty P = mean_i (||grad_x f(x_i)|| - centre)^2 of this one-output net.

        ``centre`` 1 is WGAN-GP's; 0 the zero-centred R1 / R2 (E|grad_x f|^2).

        Adds ``weight * dP/dparams`` to ``self.grad`` (call it after the
        backward pass that writes the rest of the loss's gradient) and returns P.

        The input gradient g = c_0 W_0, with c_j = s_j * (c_{j+1} W_{j+1}) and
        c_last = 1, is :meth:`backward` of ones; the slopes s_j are piecewise
        constant, so P depends on the weights through that chain of products
        alone (autograd's double backward agrees: leaky_relu_backward has no
        gradient with respect to its input, and the biases get none). Its
        derivative runs the chain the other way: with q_0 = dP/dg,
        dP/dW_j = c_j^T q_j and q_{j+1} = s_j * (q_j W_j^T); the head's is sum_i q_last.
        """
        n = x.shape[0]
        last = len(self.layers) - 1
        if self.layers[last][0].shape[0] != 1:
            raise ValueError("the gradient penalty needs a one-output net")
        _, acts = self.forward(x)
        ones = self._ones.get(n)
        if ones is None:
            with torch.inference_mode(False):
                ones = self._ones[n] = torch.ones(n, 1, dtype=self.params.dtype, device=self.params.device)
        g = self.backward(ones, acts, weights=False, inputs=True)  # c_j stay in the buffers
        chain = self._buffers(n)[1]
        norms = torch.linalg.vector_norm(g, dim=1, keepdim=True)
        gap = norms - centre
        penalty = gap.square().mean()
        # dP/dg = 2 (|g| - c) g / (n |g|); zero where g = 0, as autograd's norm backward.
        q = g * (gap.mul_(2.0 / n) / norms.clamp_min_(1e-30))
        for j in range(last):
            w, wt, _, g_store, _, transposed = self.layers[j]
            c = chain[j + 1]
            if transposed:
                g_store.addmm_(q.t(), c, alpha=weight)
            else:
                g_store.addmm_(c.t(), q, alpha=weight)
            q = torch.mm(q, wt)
            q = _leaky_relu_backward_into(q, acts[j + 1], SLOPE, True, grad_input=q)
        self.layers[last][3].add_(q.sum(0, keepdim=True), alpha=weight)
        return penalty

    def grad_views(self) -> list[torch.Tensor]:
        """Views of ``self.grad`` shaped like the module's parameters, in their order."""
        out = []
        for _, _, _, g_store, g_b, transposed in self.layers:
            out += [g_store.t() if transposed else g_store, g_b]
        return out


class SpectralNorm:
    """Spectral normalisation of an MLP's layers (Miyato et al. 2018, SNGAN): W / sigma(W).

    Each linear layer's weight W (out, in) is divided by sigma = u^T W v, the
    estimate of its largest singular value from one power iteration per call of
    :meth:`power_step` (v = W^T u / |W^T u|, u = W v / |W v|, both held without
    gradient, as in SNGAN and ``torch.nn.utils.spectral_norm``); the gradient
    flows through W in sigma. Biases are not normalised. u starts as a unit
    Gaussian vector from its own generator (``seed``), so the run's random
    stream is that of a run without it; v starts as W^T u normalised.

    Parameters
    ----------
    mlp : MLP
        The network whose layers are normalised (its weights are the raw W).
    seed : int
        Seed of the initial u vectors.
    """

    def __init__(self, mlp: MLP, seed: int) -> None:
        self.mlp = mlp
        ref = mlp.head.weight
        rng = torch.Generator(device="cpu").manual_seed(seed)
        self.u, self.v = [], []
        with torch.no_grad():
            for lin in mlp.linears():
                u = torch.randn(lin.weight.shape[0], generator=rng, dtype=torch.float64)
                u = F.normalize(u.to(ref.dtype).to(ref.device), dim=0, eps=1e-12)
                self.u.append(u)
                self.v.append(F.normalize(torch.mv(lin.weight.t(), u), dim=0, eps=1e-12))

    def power_step(self) -> None:
        """One power iteration on every layer (once per D update)."""
        with torch.no_grad():
            for i, lin in enumerate(self.mlp.linears()):
                W = lin.weight
                self.v[i] = F.normalize(torch.mv(W.t(), self.u[i]), dim=0, eps=1e-12)
                self.u[i] = F.normalize(torch.mv(W, self.v[i]), dim=0, eps=1e-12)

    def sigmas(self) -> list[torch.Tensor]:
        """u^T W v of each layer: 0-dim tensors, differentiable with respect to W."""
        return [torch.dot(u, torch.mv(lin.weight, v))
                for lin, u, v in zip(self.mlp.linears(), self.u, self.v)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised network's output on ``x`` (n, n_in) -> (n, n_out)."""
        linears = self.mlp.linears()
        last = len(linears) - 1
        for i, (lin, sigma) in enumerate(zip(linears, self.sigmas())):
            x = F.linear(x, lin.weight / sigma, lin.bias)
            if i < last:
                x = F.leaky_relu(x, SLOPE)
        return x

    def view(self) -> "NormalisedMLP":
        """An ``nn.Module``-like callable of the normalised network (what the views draw)."""
        return NormalisedMLP(self)


class NormalisedMLP(nn.Module):
    """The spectrally normalised network as a module: ``D(x)`` for the probe and the views."""

    def __init__(self, sn: SpectralNorm) -> None:
        super().__init__()
        self._sn = [sn]  # not a submodule: its parameters are the raw network's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._sn[0].forward(x)
