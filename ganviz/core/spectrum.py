"""The spectrum of the real run: eigenvalues of the Jacobian of the game's gradient field.

At weights x = (theta_D, theta_G) the players follow the joint field

    v(x) = (-grad_{theta_D} loss_D(x), -grad_{theta_G} loss_G(x))

(Mescheder, Nowozin and Geiger 2017, "The numerics of GANs"), each loss on one
fixed minibatch of real samples and noise, with the run's own penalties (the
WGAN-GP penalty, R1 and R2, instance noise) inside loss_D. Its Jacobian
J = dv/dx is an (n, n) real matrix over all n parameters of both networks.
Near a point where v = 0 the iterates of small simultaneous gradient steps move
by I + h J: an eigenvalue with a positive real part pushes away, one with a
large imaginary part against a small real part rotates (the Dirac-GAN's
+-i f'(0) of ganviz/core/dynamics.py, whose sign convention this shares:
stable is left of the imaginary axis). With ``consensus`` gamma on, the
players follow w = v - gamma J^T v; the spectrum of J - gamma J^T J is given
beside J's (exact where v = 0; elsewhere it leaves out the curvature term
gamma (dJ^T) v, as dynamics.jacobian does).

How it is computed, in float64 from a copy of the run's weights (the run's
engine, its random stream and its float32 weights are never touched):

- v with autograd (``create_graph``), so that one more backward pass through
  the retained graph gives J^T u for any u (double backward): J's eigenvalues
  are J^T's. J u, for the consensus operator, is one further backward pass
  (the "double-backward trick": J u = d/dw <J^T w, u>).
- ``exact`` (n <= EXACT_LIMIT): J row by row, n backward passes, then every
  eigenvalue by LAPACK (numpy.linalg.eigvals, O(n^3)).
- ``arnoldi`` (larger n: 34,179 parameters at the default width 128 and two
  layers, where J would hold 9 GB): the k eigenvalues of largest modulus by
  implicitly restarted Arnoldi (ARPACK through scipy.sparse.linalg.eigs) on the
  products J^T u; each product costs about one backward pass of the minibatch.
  Largest modulus is what ARPACK finds reliably (the rightmost eigenvalues sit
  in a cluster around 0, where it converges slowly), and it is what sets the
  stiffness of the game: h |lambda| against the step size, and the rotation
  max |Im| / max |Re| of the fastest directions.

Weight clipping (``wgan``) is a projection after each step, not part of the
field, so it is not in J. docs/performance.md has the cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import functional_call

from . import losses
from .config import Config, ConfigError

#: Up to this many parameters J is formed and every eigenvalue computed (n backward passes).
EXACT_LIMIT = 300
#: Eigenvalues ARPACK looks for on a larger network.
DEFAULT_K = 16
#: Keys of the run that change the field; read by name, so a config without one reads 0.
FIELD_KEYS = ("r1", "r2", "instance_noise", "consensus")
#: Keys the spectrum does not model: a run with one of them on gets one line saying so.
UNMODELLED = ("spectral_norm",)


@dataclass(frozen=True)
class Spectrum:
    """Eigenvalues of the field's Jacobian at one moment of a run.

    Attributes
    ----------
    eigenvalues : ndarray
        (m,) complex128: all n of them (``exact``) or the k of largest modulus.
    consensus : ndarray or None
        (m,) complex128: those of J - gamma J^T J when consensus gamma > 0.
    method : str
        ``exact`` or ``arnoldi``.
    n_params : int
        Parameters of D and G together (the size of J).
    batch : int
        Real samples and noise vectors in the minibatch the field is taken on.
    seconds : float
        Wall time of the computation (building the field included).
    """

    eigenvalues: np.ndarray
    consensus: np.ndarray | None
    method: str
    n_params: int
    batch: int
    seconds: float


class GameField:
    """The joint gradient field of two networks at their current weights, in float64.

    Parameters
    ----------
    G, D : torch.nn.Module
        Generator (z -> x) and discriminator (x -> logit); their parameters are
        copied, in float64, and never written.
    loss : str
        A name in the loss registry (ganviz/core/losses.py).
    real : torch.Tensor
        (m, dim) real samples.
    z : torch.Tensor
        (m, z_dim) noise.
    gp_weight : float
        Weight of the WGAN-GP penalty (used when ``loss`` has one); ``gp_eps``
        (m, 1) its interpolation weights.
    r1, r2 : float
        Zero-centred penalties (gamma/2) E|grad_x D(x)|^2 on the real and on the
        generated samples, added to loss_D.
    noise_real, noise_fake : torch.Tensor, optional
        (m, dim) instance noise added to what D sees of real and of generated samples.

    Attributes
    ----------
    n, n_d, n_g : int
        Parameters in all, of D, of G; x = (theta_D, theta_G) in that order.
    """

    def __init__(self, G, D, loss: str, real, z, *, gp_weight: float = 0.0, gp_eps=None,
                 r1: float = 0.0, r2: float = 0.0, noise_real=None, noise_fake=None) -> None:
        entry = losses.get(loss)
        dt = torch.float64
        self._shapes = {}
        leaves = []
        for name, net in (("D", D), ("G", G)):
            params = {k: p.detach() for k, p in net.named_parameters()}
            self._shapes[name] = [(k, p.shape, p.numel()) for k, p in params.items()]
            flat = torch.cat([p.reshape(-1).to(dt) for p in params.values()])
            leaves.append(flat.clone().requires_grad_(True))
        self.xd, self.xg = leaves
        self.n_d, self.n_g = self.xd.numel(), self.xg.numel()
        self.n = self.n_d + self.n_g
        d_params, g_params = self._unflatten("D", self.xd), self._unflatten("G", self.xg)

        def d_logits(x):
            return functional_call(D, d_params, (x,))

        real = real.to(dt)
        fake = functional_call(G, g_params, (z.to(dt),))
        seen_real = real if noise_real is None else real + noise_real.to(dt)
        seen_fake = fake if noise_fake is None else fake + noise_fake.to(dt)
        with torch.enable_grad():
            if r1 > 0:  # the penalty differentiates D's logit by its input
                seen_real = seen_real.detach().requires_grad_(True)
            real_l, fake_l = d_logits(seen_real), d_logits(seen_fake)
            loss_d = entry.d_value(real_l, fake_l)
            if entry.gradient_penalty and gp_weight > 0:
                x_hat = gp_eps.to(dt) * real + (1 - gp_eps.to(dt)) * fake
                loss_d = loss_d + gp_weight * _gp(d_logits, x_hat)
            if r1 > 0:
                loss_d = loss_d + 0.5 * r1 * _grad_sq(d_logits(seen_real), seen_real)
            if r2 > 0:
                loss_d = loss_d + 0.5 * r2 * _grad_sq(d_logits(seen_fake), seen_fake)
            loss_g = entry.g_value(fake_l)
            (gd,) = torch.autograd.grad(loss_d, self.xd, create_graph=True)
            (gg,) = torch.autograd.grad(loss_g, self.xg, create_graph=True)
        self.v = torch.cat([-gd, -gg])
        self._dual = None  # J^T w with w a zero leaf: its derivative in w gives J u

    def _unflatten(self, name: str, flat: torch.Tensor) -> dict:
        out, offset = {}, 0
        for key, shape, size in self._shapes[name]:
            out[key] = flat[offset:offset + size].view(shape)
            offset += size
        return out

    def vector(self) -> np.ndarray:
        """(n,) float64: v at the weights."""
        return self.v.detach().numpy().copy()

    def rmatvec(self, u) -> np.ndarray:
        """(n,) float64: J^T u, one backward pass through the retained graph."""
        u = torch.as_tensor(np.asarray(u, dtype=np.float64).reshape(-1))
        gd, gg = torch.autograd.grad(self.v, (self.xd, self.xg), u, retain_graph=True,
                                     allow_unused=True, materialize_grads=True)
        return torch.cat([gd, gg]).detach().numpy()

    def matvec(self, u) -> np.ndarray:
        """(n,) float64: J u, by differentiating J^T w (linear in w) with respect to w."""
        if self._dual is None:
            self._w = torch.zeros(self.n, dtype=torch.float64, requires_grad=True)
            gd, gg = torch.autograd.grad(self.v, (self.xd, self.xg), self._w, create_graph=True,
                                         allow_unused=True, materialize_grads=True)
            self._dual = torch.cat([gd, gg])
        u = torch.as_tensor(np.asarray(u, dtype=np.float64).reshape(-1))
        (out,) = torch.autograd.grad(self._dual, self._w, u, retain_graph=True,
                                     allow_unused=True, materialize_grads=True)
        return out.detach().numpy()

    def matrix(self) -> np.ndarray:
        """(n, n) float64: J, rows (theta_D', theta_G'), columns (theta_D, theta_G)."""
        eye = np.eye(self.n)
        return np.stack([self.rmatvec(row) for row in eye])  # row i of J is J^T e_i


def _grad_sq(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E |grad_x D(x)|^2 over the rows of ``x``, differentiable in D's weights (and in G's,
    where ``x`` is generated)."""
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.pow(2).sum(dim=1).mean()


def _gp(d_logits, x_hat: torch.Tensor) -> torch.Tensor:
    """E[(|grad D(x_hat)| - 1)^2], as losses.gradient_penalty, on a functional D.

    ``x_hat`` depends on G's weights through the generated samples: the penalty's
    value moves with G, which is J's block d(v_D)/d(theta_G).
    """
    (grad,) = torch.autograd.grad(d_logits(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.norm(dim=1) - 1) ** 2).mean()


def field_of_run(config: Config, state: dict, step: int = 0, batch: int | None = None
                 ) -> GameField:
    """The field of a run's config at an engine state's weights, on a fresh minibatch.

    The minibatch comes from its own generator, seeded by (``config.seed``,
    ``step``): the same weights always give the same spectrum.

    Parameters
    ----------
    config : Config
    state : dict
        An engine state (``Engine.state()``): ``G`` and ``D`` state dicts of numpy arrays.
    step : int
        The iteration the weights are from (seeds the minibatch).
    batch : int, optional
        Samples in the minibatch; default the run's ``batch_size``.
    """
    from .data import make_target
    from .models import make_models

    for key in UNMODELLED:
        if getattr(config, key, False):
            raise ConfigError(f"{key} is not modelled by the spectrum; turn it off to compute "
                              "the field's eigenvalues")
    m = int(batch or config.batch_size)
    target = make_target(config.data)
    with torch.random.fork_rng(devices=[]):
        G, D = make_models(target.dim, config.z_dim, config.hidden, config.layers)
    for net, name in ((G, "G"), (D, "D")):
        net.double()
        with torch.no_grad():
            for key, p in net.state_dict().items():
                p.copy_(torch.as_tensor(np.asarray(state[name][key]), dtype=torch.float64))
    gen = torch.Generator().manual_seed((int(config.seed) * 1_000_003 + int(step)) % 2**63)
    real = target.sample(m, gen, torch.device("cpu"))
    z = torch.randn(m, config.z_dim, generator=gen, dtype=torch.float64)
    sigma = float(getattr(config, "instance_noise", 0.0))
    noise = {}
    if sigma > 0:
        noise = {name: sigma * torch.randn(m, target.dim, generator=gen, dtype=torch.float64)
                 for name in ("noise_real", "noise_fake")}
    return GameField(G, D, config.loss, real, z, gp_weight=config.gp_weight,
                     gp_eps=torch.rand(m, 1, generator=gen, dtype=torch.float64),
                     r1=float(getattr(config, "r1", 0.0)), r2=float(getattr(config, "r2", 0.0)),
                     **noise)


def eigen(field: GameField, consensus: float = 0.0, k: int = DEFAULT_K,
          exact_limit: int = EXACT_LIMIT) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Eigenvalues of J (and of J - consensus J^T J): all of them, or the k of largest modulus.

    Returns
    -------
    tuple
        (eigenvalues (m,) complex128, consensus ones or None, method ``exact`` or ``arnoldi``),
        each sorted by decreasing modulus.
    """
    if field.n <= exact_limit:
        J = field.matrix()
        plain = np.linalg.eigvals(J)
        corrected = np.linalg.eigvals(J - consensus * J.T @ J) if consensus > 0 else None
        return _by_modulus(plain), _by_modulus(corrected), "exact"
    from scipy.sparse.linalg import LinearOperator, eigs

    k = max(1, min(int(k), field.n - 2))
    v0 = np.random.default_rng(0).standard_normal(field.n)  # the same start, the same answer
    # J and J^T have the same eigenvalues; J^T u is the cheaper product (no extra graph).
    plain_op = LinearOperator((field.n, field.n), matvec=field.rmatvec, dtype=np.float64)
    plain = eigs(plain_op, k=k, which="LM", v0=v0, tol=1e-9, return_eigenvectors=False)
    corrected = None
    if consensus > 0:  # (J - gamma J^T J)^T = J^T - gamma J^T J
        op = LinearOperator((field.n, field.n), dtype=np.float64,
                            matvec=lambda u: field.rmatvec(u - consensus * field.matvec(u)))
        corrected = eigs(op, k=k, which="LM", v0=v0, tol=1e-9, return_eigenvectors=False)
    return _by_modulus(plain), _by_modulus(corrected), "arnoldi"


def spectrum(config: Config, state: dict, step: int = 0, *, k: int = DEFAULT_K,
             batch: int | None = None, exact_limit: int = EXACT_LIMIT) -> Spectrum:
    """The spectrum of a run's field at an engine state: what the lab's "Spectrum now" shows.

    Parameters
    ----------
    config : Config
        The run's config (loss, penalties, consensus, architecture, data).
    state : dict
        ``G`` and ``D`` weights (numpy, any float dtype), as ``Engine.state()`` gives.
    step : int
        The iteration of the weights (seeds the minibatch).
    k : int
        Eigenvalues wanted when the network is too large for the exact method.
    batch : int, optional
        Minibatch size; default the run's.
    exact_limit : int
        Largest parameter count computed exactly.

    Returns
    -------
    Spectrum
        Eigenvalues in units of 1/step-size: a step of size h moves along an
        eigenvector by the factor 1 + h lambda.
    """
    start = time.perf_counter()
    field = field_of_run(config, state, step, batch)
    gamma = float(getattr(config, "consensus", 0.0))
    plain, corrected, method = eigen(field, gamma, k, exact_limit)
    return Spectrum(plain, corrected, method, field.n, int(batch or config.batch_size),
                    time.perf_counter() - start)


def _by_modulus(values):
    if values is None:
        return None
    values = np.asarray(values, dtype=np.complex128)
    order = np.lexsort((values.imag, values.real, -np.abs(values).round(12)))
    return values[order]



def cost(config: Config, k: int = DEFAULT_K, repeats: int = 3, warmup: int = 200) -> dict:
    """What one spectrum of ``config``'s run costs here, after ``warmup`` training iterations.

    Returns
    -------
    dict
        ``n_params``, ``method``, ``products`` (backward passes through the field's
        graph), and the median over ``repeats`` of ``build_ms`` (the field and its
        graph), ``eigen_ms`` (the products and the eigensolver), ``ms_per_product``
        and ``cpu_ms`` (this process's CPU time for the whole spectrum: on a shared
        machine the wall figures include the time other processes held the core).
    """
    from .trainer import Engine

    engine = Engine(config)
    for _ in range(warmup):
        engine.train_step()
    state = engine.state()
    spectrum(config, state, engine.step, k=k)  # first-call setup (imports, allocations)
    rows = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        field = field_of_run(config, state, engine.step)
        built = time.perf_counter()
        count, product = [0], field.rmatvec

        def counted(u, product=product):
            count[0] += 1
            return product(u)

        field.rmatvec = counted
        method = eigen(field, float(getattr(config, "consensus", 0.0)), k)[2]
        done = time.perf_counter()
        rows.append(((built - start) * 1e3, (done - built) * 1e3, count[0],
                     (time.process_time() - cpu) * 1e3))
    build, solve, products, cpu_ms = (float(np.median([r[i] for r in rows])) for i in range(4))
    return {"n_params": field.n, "method": method, "products": int(products),
            "build_ms": round(build, 1), "eigen_ms": round(solve, 1),
            "ms_per_product": round(solve / max(products, 1), 2), "cpu_ms": round(cpu_ms)}


if __name__ == "__main__":  # python -m ganviz.core.spectrum: the figures in docs/performance.md
    import json

    from .trainer import set_threads

    set_threads()
    for keys in ({}, {"batch_size": 64}, {"hidden": 8}, {"hidden": 32, "layers": 1}):
        figures = cost(Config(device="cpu", **keys))
        print(json.dumps({"config": keys or "bench (ring8, 2-128-128, batch 256)", **figures}))
