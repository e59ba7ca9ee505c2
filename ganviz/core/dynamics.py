"""Two-parameter games you can solve: the Dirac-GAN and the bilinear game.

**The Dirac-GAN** (Mescheder, Geiger and Nowozin 2018, "Which training methods
for GANs do actually converge?", section 2). p_data is a point mass at 0, the
generator a point mass at theta, the discriminator linear, D(x) = psi x. In
the paper's convention L(theta, psi) = f(psi theta) + f(0); theta descends,
psi ascends, and the players move along the gradient field

    v(theta, psi) = (-psi f'(psi theta), theta f'(psi theta))

with f(t) = -log(1 + e^-t) for the GAN (f'(0) = 1/2, f''(0) = -1/4) and
f(t) = t for WGAN. The unique equilibrium is (0, 0).

``psi`` here is the paper's: its D is high on *generated* samples. The loss
registry (ganviz/core/losses.py) writes every loss with a logit l that is high
on *real* ones; the two agree with l(x) = -psi x. The toy is built from the
registry's per-sample terms in that convention (d_real, d_fake, g_fake as
functions of the logit; the real sample's logit is always 0 without noise):

    theta' = psi g_fake'(-psi theta)        psi' = theta d_fake'(-psi theta)

which gives, for each loss the toy supports (tests/test_dynamics.py checks
each derivative against torch.autograd on the registry's own terms):

- ``minimax``: v = (-psi f'(psi theta), theta f'(psi theta)), the paper's field.
- ``nonsaturating``: v = (-psi f'(-psi theta), theta f'(psi theta)): G maximises
  log D(G(z)); the same Jacobian at the equilibrium, a different field away from it.
- ``wgan``: v = (-psi, theta) (f(t) = t). No weight clipping: the paper's field.
- ``hinge``: v = (-psi, theta 1[psi theta < 1]): WGAN's field near the equilibrium.
- ``lsgan``: v = (-2 psi s(1 - s)^2, 2 theta s^2 (1 - s)) with s = sigmoid(-psi theta):
  Jacobian eigenvalues +-i/4.

``wgan-gp`` is refused: its penalty lambda (|psi| - 1)^2 is not differentiable at
psi = 0, so the equilibrium has no Jacobian (use ``r1`` for a zero-centred penalty).

**The bilinear game** (Gidel et al. 2019, "A variational inequality perspective on
generative adversarial networks", section 5): min_theta max_phi theta phi, the
field v = (-phi, theta): the WGAN Dirac-GAN, with ``psi`` read as phi.

**Regularisers**, added to the players' own objectives (so ``v`` below includes them):

- ``r1``, ``r2``: zero-centred gradient penalties (gamma/2) E|grad_x D|^2 on real and on
  generated samples; both are (gamma/2) psi^2 here: psi' -= (r1 + r2) psi.
- ``instance_noise`` sigma: both point masses blurred by N(0, sigma^2); the field is
  the expectation over the noise (Gauss-Hermite quadrature, exact for polynomials
  of degree < 2 * NOISE_NODES). Jacobian entry psi'psi gains -sigma^2 (d_real'' + d_fake'')(0)
  = 2 sigma^2 f''(0) for the GAN; nothing for the linear losses.
- ``consensus`` gamma (Mescheder, Nowozin and Geiger 2017, "The numerics of GANs"):
  both players also descend (1/2)|v|^2: w = v - gamma J^T v, J = dv/dx.

**Update rules**, with H = diag(lr_g, lr_d) (h when both are equal):

- ``alternating``: k D steps psi += lr_d w_psi, then one G step theta += lr_g w_theta
  (Goodfellow et al. 2014, Algorithm 1; n_d = k, n_g = 1);
- ``simultaneous``: x += H w(x);
- ``extragradient``: x_half = x + H w(x); x += H w(x_half) (Korpelevich 1976; Gidel 2019);
- ``optimistic``: x_next = x + 2 H w(x) - H w(x_prev), x_prev = x at the first step
  (Daskalakis et al. 2018; Gidel 2019's z+ = z - 2 eta F(z) + eta F(z_prev)).

``k`` > 1 is accepted with ``alternating`` only: the joint rules move both players at once.

**The optimizer.** ``optimizer=sgd`` is the run's: torch.optim.SGD with momentum mu =
0.9 (config.SGD_MOMENTUM; dampening 0, no Nesterov). Each player keeps a buffer, zero at
the start; every step of a player is m <- mu m + w_player, then x_player += lr m (the
gradient is -w: torch's buf <- mu buf + g, p -= lr buf). In each rule a step above is
such an optimizer step: ``alternating`` advances D's buffer k times and G's once;
``simultaneous`` both once; ``extragradient`` both twice (to x_half, then from x with
the gradient at x_half); ``optimistic`` moves by 2 Delta_t - Delta_{t-1} with
Delta_t = H m_t. The update operator then acts on (theta, psi, m_theta, m_psi).
``momentum=0`` gives plain gradient steps, the form of the papers' toys (the paper-...
presets, Mescheder 2018 and Gidel 2019).

All arrays are float64; theta and psi are dimensionless (the data live at 0 and
theta on the real line, D's slope is psi per unit of x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from .config import SGD_MOMENTUM, UPDATES, ConfigError

DYNAMICS = ("dirac", "bilinear")
#: The registry's losses the Dirac-GAN supports, in menu order.
TOY_LOSSES = ("minimax", "nonsaturating", "wgan", "lsgan", "hinge")
#: The run's Config keys the toy reads (``lr`` sets both rates); --dynamics refuses the others.
CONFIG_KEYS = ("loss", "update", "k", "lr", "lr_d", "lr_g", "r1", "r2", "consensus",
               "instance_noise", "optimizer")
#: The toy's own keys, not the run's: the start, the clip of psi, and sgd's momentum
#: (the run's 0.9 unless set; 0 for the papers' plain gradient steps).
OWN_KEYS = ("theta0", "psi0", "psi_clip", "momentum")
#: Where the toy's defaults differ from a run's: the paper's loss and step h = 0.2, and
#: sgd (the toy models no Adam or RMSprop state).
DEFAULTS = {"loss": "minimax", "lr_d": 0.2, "lr_g": 0.2, "optimizer": "sgd"}
#: Gauss-Hermite nodes for the expectation over instance noise.
NOISE_NODES = 40


def _sigmoid(x):
    """1 / (1 + e^-x), without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def loss_terms(loss: str, logit):
    """First and second derivatives of the registry's per-sample terms at ``logit``.

    Parameters
    ----------
    loss : str
        One of TOY_LOSSES.
    logit : array_like
        D's raw output in the registry's convention (high on real samples).

    Returns
    -------
    tuple of 6 ndarrays
        (g_fake', g_fake'', d_fake', d_fake'', d_real', d_real''), each shaped
        like ``logit``: derivatives with respect to the logit of what G minimises
        on a generated sample and what D minimises on a generated and a real one.
    """
    l = np.asarray(logit, dtype=np.float64)
    zero, one = np.zeros_like(l), np.ones_like(l)
    if loss in ("wgan", "hinge"):
        if loss == "wgan":
            return -one, zero, one, zero, -one, zero
        # relu(1 + l) and relu(1 - l): 0 at the kink, as autograd
        return -one, zero, (l > -1).astype(float), zero, -(l < 1).astype(float), zero
    s = _sigmoid(l)
    ds = s * (1 - s)
    if loss == "lsgan":  # D = sigmoid(l); (D - 1)^2 on real and for G, D^2 on fake
        g1 = -2 * s * (1 - s) ** 2
        g2 = -2 * ds * (1 - s) * (1 - 3 * s)
        return g1, g2, 2 * s * s * (1 - s), 2 * ds * s * (2 - 3 * s), g1, g2
    # cross-entropy D: softplus(l) on fake, softplus(-l) on real
    if loss == "minimax":  # G minimises -softplus(l) = log(1 - D)
        g1, g2 = -s, -ds
    elif loss == "nonsaturating":  # G minimises softplus(-l) = -log D
        g1, g2 = s - 1, ds
    else:
        raise ConfigError(_loss_refusal(loss))
    return g1, g2, s, ds, s - 1, ds


def _loss_refusal(loss: str) -> str:
    if loss == "wgan-gp":
        return ("loss=wgan-gp has no Jacobian at the Dirac-GAN's equilibrium (its penalty "
                "(|psi| - 1)^2 has a kink at psi = 0); the toy supports: "
                f"{', '.join(TOY_LOSSES)} (r1 is the zero-centred penalty)")
    return f"unknown loss {loss!r} for the Dirac-GAN; accepted: {', '.join(TOY_LOSSES)}"


@dataclass(frozen=True)
class Game:
    """One toy game and how it is played; validated on creation (ConfigError).

    Attributes
    ----------
    kind : str
        ``dirac`` or ``bilinear``.
    loss : str
        One of TOY_LOSSES (``dirac``); the bilinear game's objective is theta phi
        and its ``loss`` is ``wgan`` (the same field).
    update : str
        One of UPDATES.
    k : int
        D steps per G step (``alternating``); 1 for the joint rules.
    lr_d, lr_g : float
        Step sizes of psi and theta (> 0).
    r1, r2, consensus, instance_noise : float
        Regulariser weights (>= 0); instance_noise is a standard deviation.
    psi_clip : float or None
        Clip psi (phi) to [-psi_clip, psi_clip] after every update, as Gidel et al.'s
        notebook does; None: no clipping. Trajectories only (the linearisation at
        the equilibrium is inside any clip box).
    momentum : float
        Heavy-ball momentum mu in [0, 1) of both players' optimizer steps (the module
        docstring); 0: plain gradient steps. :meth:`from_config` gives a run's sgd
        its 0.9.
    """

    kind: str = "dirac"
    loss: str = "minimax"
    update: str = "alternating"
    k: int = 1
    lr_d: float = 0.2
    lr_g: float = 0.2
    r1: float = 0.0
    r2: float = 0.0
    consensus: float = 0.0
    instance_noise: float = 0.0
    psi_clip: float | None = None
    momentum: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in DYNAMICS:
            raise ConfigError(f"unknown dynamics {self.kind!r}; accepted: {', '.join(DYNAMICS)}")
        if self.kind == "bilinear" and self.loss != "wgan":
            raise ConfigError("the bilinear game's objective is theta*phi (loss wgan); "
                              "choose a loss with --dynamics dirac")
        if self.loss not in TOY_LOSSES:
            raise ConfigError(_loss_refusal(self.loss))
        if self.update not in UPDATES:
            raise ConfigError(f"unknown update {self.update!r}; accepted: {', '.join(UPDATES)}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be a positive integer, got {self.k!r}")
        if self.k > 1 and self.update != "alternating":
            raise ConfigError(f"k={self.k} is for update=alternating; simultaneous, extragradient "
                              "and optimistic move both players at once (k=1)")
        for name in ("lr_d", "lr_g"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a finite number > 0, got {value!r}")
        for name in ("r1", "r2", "consensus", "instance_noise"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ConfigError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.psi_clip is not None and not (math.isfinite(self.psi_clip) and self.psi_clip > 0):
            raise ConfigError(f"psi_clip must be a finite number > 0, got {self.psi_clip!r}")
        m = self.momentum
        if isinstance(m, bool) or not isinstance(m, (int, float)) or not 0 <= m < 1:
            raise ConfigError(f"momentum must be a number from 0 (plain gradient steps) up to "
                              f"but not including 1, got {m!r}")

    @classmethod
    def from_config(cls, config, kind: str = "dirac", psi_clip: float | None = None,
                    momentum: float | None = None) -> "Game":
        """The game a run's Config describes (its loss, update, k, rates, regularisers and
        sgd: momentum SGD_MOMENTUM unless ``momentum`` is given, 0 for plain steps).

        The bilinear game has its own objective, so the config's loss is not read for it.
        """
        if config.optimizer != "sgd":
            raise ConfigError(f"optimizer={config.optimizer}: the toy takes the run's sgd steps "
                              f"(momentum {SGD_MOMENTUM}, or --set momentum=0 for plain "
                              "gradient steps); accepted: sgd")
        keys = {f.name for f in fields(cls)} - {"kind", "loss", "psi_clip", "momentum"}
        values = {key: getattr(config, key) for key in keys}
        loss = "wgan" if kind == "bilinear" else config.loss
        momentum = SGD_MOMENTUM if momentum is None else momentum
        return cls(kind=kind, loss=loss, psi_clip=psi_clip, momentum=momentum, **values)

    @property
    def rates(self) -> np.ndarray:
        """(2,) the step sizes (lr_g, lr_d) of (theta, psi)."""
        return np.array([self.lr_g, self.lr_d])


# --- the field and its Jacobian -------------------------------------------------------


def _noise(sigma: float):
    """Nodes (n,) and weights (n,) of E over N(0, sigma^2); one node at 0 without noise."""
    if sigma == 0:
        return np.zeros(1), np.ones(1)
    x, w = np.polynomial.hermite_e.hermegauss(NOISE_NODES)
    return sigma * x, w / w.sum()


def _players(game: Game, theta, psi, jacobian: bool):
    """The players' field v (and its Jacobian): (theta', psi'), each shaped like theta*psi."""
    theta, psi = np.broadcast_arrays(np.asarray(theta, float), np.asarray(psi, float))
    eps, weight = _noise(game.instance_noise)
    t, p = theta[..., None], psi[..., None]  # (..., 1) against the nodes (n,)
    u = t + eps  # the generated sample; the real one is eps
    g1, g2, f1, f2, _, _ = loss_terms(game.loss, -p * u)
    _, _, _, _, r1, r2 = loss_terms(game.loss, -p * eps)
    gamma = game.r1 + game.r2

    def mean(a):
        return np.broadcast_to(a, u.shape) @ weight

    v = np.stack([mean(p * g1), mean(eps * r1 + u * f1) - gamma * psi], axis=-1)
    if not jacobian:
        return v, None
    J = np.empty(theta.shape + (2, 2))
    J[..., 0, 0] = mean(-p * p * g2)
    J[..., 0, 1] = mean(g1 - p * u * g2)
    J[..., 1, 0] = mean(f1 - u * p * f2)
    J[..., 1, 1] = mean(-eps * eps * r2 - u * u * f2) - gamma
    return v, J


def field(game: Game, theta, psi) -> np.ndarray:
    """The field w the players follow: their gradients, with regularisers and consensus.

    Parameters
    ----------
    game : Game
    theta, psi : array_like
        Broadcastable positions (e.g. a meshgrid for a quiver plot).

    Returns
    -------
    ndarray
        (..., 2) float64: (theta', psi') per unit of step size at each position.
    """
    v, J = _players(game, theta, psi, jacobian=game.consensus > 0)
    if game.consensus > 0:
        v = v - game.consensus * np.einsum("...ji,...j->...i", J, v)
    return v


def jacobian(game: Game, theta=0.0, psi=0.0) -> np.ndarray:
    """Jacobian dw/dx of the followed field, analytic; at the equilibrium by default.

    With consensus, w = v - gamma J_v^T v; its Jacobian is exact at the equilibrium
    (where v = 0: J_v - gamma J_v^T J_v) and drops the curvature term
    gamma (dJ_v^T) v elsewhere.

    Returns
    -------
    ndarray
        (..., 2, 2) float64, rows (theta', psi'), columns (theta, psi).
    """
    _, J = _players(game, theta, psi, jacobian=True)
    if game.consensus > 0:
        J = J - game.consensus * np.swapaxes(J, -1, -2) @ J
    return J


def eigenvalues(game: Game) -> np.ndarray:
    """(2,) complex: the eigenvalues of the field's Jacobian at the equilibrium (0, 0).

    Closed forms (tests/test_dynamics.py): +-i f'(0) unregularised; R1 or R2
    -gamma/2 +- sqrt(gamma^2/4 - f'(0)^2); consensus -gamma f'(0)^2 +- i f'(0).
    """
    return _sorted(np.linalg.eigvals(jacobian(game)))


def update_operator(game: Game) -> np.ndarray:
    """The Jacobian of one iteration of the update rule at the equilibrium.

    Plain steps (momentum 0): every sub-step x -> x + M w(x) (M: the rates of
    the players it moves) is linearised as I + M J; an iteration is their
    product. Optimistic steps use the previous point too: its operator acts on
    (x, x_prev). With momentum the state is (x, m), the players' positions and
    buffers (:func:`_momentum_operator`).

    Returns
    -------
    ndarray
        (2, 2) float64 for plain steps, (4, 4) for plain ``optimistic`` steps and
        for every rule with momentum.
    """
    J, I = jacobian(game), np.eye(2)
    H = np.diag(game.rates)
    if game.momentum:
        return _momentum_operator(game, J, H)
    if game.update == "alternating":
        D = I + np.diag([0.0, game.lr_d]) @ J
        G = I + np.diag([game.lr_g, 0.0]) @ J
        return G @ np.linalg.matrix_power(D, game.k)
    if game.update == "simultaneous":
        return I + H @ J
    if game.update == "extragradient":
        return I + H @ J @ (I + H @ J)
    return np.block([[I + 2 * H @ J, -H @ J], [I, np.zeros((2, 2))]])


def _momentum_operator(game: Game, J: np.ndarray, H: np.ndarray) -> np.ndarray:
    """(4, 4): one iteration with momentum mu, linearised, on z = (theta, psi, m_theta, m_psi).

    An optimizer step of the players selected by E (a 0/1 diagonal) is
    m' = m + E((mu - 1) m + J x), x' = x + H E m', i.e.
    S_E = [[I + H E J, mu H E], [E J, I - (1 - mu) E]];
    alternating is S_G S_D^k; simultaneous S_I. Extragradient: m1 = mu m + J x,
    x_half = x + H m1, m2 = mu m1 + J x_half, then (x + H m2, m2). Optimistic, on
    (x_t, m_{t-1}): m_t = mu m_{t-1} + J x_t, x_{t+1} = x_t + 2 H m_t - H m_{t-1}.
    """
    mu, I, O = float(game.momentum), np.eye(2), np.zeros((2, 2))

    def step(E):
        return np.block([[I + H @ E @ J, mu * H @ E], [E @ J, I - (1 - mu) * E]])

    if game.update == "alternating":
        return step(np.diag([1.0, 0.0])) @ np.linalg.matrix_power(step(np.diag([0.0, 1.0])), game.k)
    if game.update == "simultaneous":
        return step(I)
    if game.update == "extragradient":
        m1 = np.block([J, mu * I])
        x_half = np.block([I + H @ J, mu * H])
        m2 = mu * m1 + J @ x_half
        return np.vstack([np.block([I, O]) + H @ m2, m2])
    m_t = np.block([J, mu * I])
    return np.vstack([np.block([I, -H]) + 2 * H @ m_t, m_t])


def update_eigenvalues(game: Game) -> np.ndarray:
    """(2,) complex for plain steps, (4,) for plain ``optimistic`` steps and with momentum:
    the eigenvalues of :func:`update_operator`."""
    return _sorted(np.linalg.eigvals(update_operator(game)))


def spectral_radius(game: Game) -> float:
    """The largest modulus of the update operator's eigenvalues: below 1, the iterates
    converge near the equilibrium; above 1, they leave it; exactly 1, they cycle."""
    return float(np.abs(update_eigenvalues(game)).max())


def rotation_index(values) -> float:
    """max |Im| / max |Re| over eigenvalues: how much faster the fastest rotation is than the
    fastest pull or push (inf for a pure rotation such as the unregularised Dirac-GAN's,
    nan without eigenvalues or when all are 0)."""
    values = np.asarray(values, dtype=complex).reshape(-1)
    if values.size == 0:
        return math.nan
    im, re = float(np.abs(values.imag).max()), float(np.abs(values.real).max())
    if re == 0:
        return math.inf if im > 0 else math.nan
    return im / re


def vary(game: Game, key: str, value) -> Game:
    """``game`` with one setting changed (a small multiple of the lab); ConfigError if refused.

    ``lr`` sets both rates; a joint update rule (simultaneous, extragradient, optimistic)
    takes k = 1, since k counts the D steps of ``alternating``.
    """
    from dataclasses import replace

    if key == "lr":
        return replace(game, lr_d=value, lr_g=value)
    if key == "update" and value != "alternating":
        return replace(game, update=value, k=1)
    if key not in {f.name for f in fields(Game)} - {"kind"}:
        raise ConfigError(f"cannot vary {key!r}; accepted: lr, "
                          + ", ".join(f.name for f in fields(Game) if f.name != "kind"))
    return replace(game, **{key: value})


def _sorted(values: np.ndarray) -> np.ndarray:
    """Complex eigenvalues in a fixed order (by real part, then imaginary part)."""
    values = np.asarray(values, dtype=complex)
    return values[np.lexsort((values.imag.round(12), values.real.round(12)))]


# --- trajectories ------------------------------------------------------------------------


def trajectory(game: Game, theta0: float = 1.0, psi0: float = 1.0, steps: int = 500) -> np.ndarray:
    """The iterates of the update rule from (theta0, psi0).

    Parameters
    ----------
    game : Game
    theta0, psi0 : float
        The start.
    steps : int
        Iterations (one G step each).

    Returns
    -------
    ndarray
        (steps + 1, 2) float64: (theta, psi) at every iteration, the start first.
        An iterate that overflows is inf or nan from there on (numpy's warnings off).
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be an integer >= 0, got {steps!r}")
    out = np.empty((steps + 1, 2))
    x = np.array([theta0, psi0], dtype=float)
    out[0] = x
    H, lo, hi = game.rates, -np.inf, np.inf
    if game.psi_clip is not None:
        lo, hi = -game.psi_clip, game.psi_clip

    def w(x):
        return field(game, x[0], x[1])

    def clip(x):
        x[1] = min(max(x[1], lo), hi)
        return x

    if game.momentum:
        return _momentum_trajectory(game, out, w, clip)
    previous = w(x)
    with np.errstate(all="ignore"):
        for i in range(1, steps + 1):
            if game.update == "alternating":
                for _ in range(game.k):
                    x[1] += game.lr_d * w(x)[1]
                    clip(x)
                x[0] += game.lr_g * w(x)[0]
            elif game.update == "simultaneous":
                x = clip(x + H * w(x))
            elif game.update == "extragradient":
                x = clip(x + H * w(clip(x + H * w(x))))
            else:
                now = w(x)
                x = clip(x + 2 * H * now - H * previous)
                previous = now
            out[i] = x
    return out


def _momentum_trajectory(game: Game, out: np.ndarray, w, clip) -> np.ndarray:
    """:func:`trajectory` with momentum: each player's buffer m <- mu m + w, then x += lr m."""
    mu, H = float(game.momentum), game.rates
    x, m = out[0].copy(), np.zeros(2)  # torch starts a buffer at the first gradient: mu * 0 + g
    previous = None  # Delta_{t-1} of optimistic steps
    with np.errstate(all="ignore"):
        for i in range(1, len(out)):
            if game.update == "alternating":
                for _ in range(game.k):
                    m[1] = mu * m[1] + w(x)[1]
                    x[1] += game.lr_d * m[1]
                    clip(x)
                m[0] = mu * m[0] + w(x)[0]
                x[0] += game.lr_g * m[0]
            elif game.update == "simultaneous":
                m = mu * m + w(x)
                x = clip(x + H * m)
            elif game.update == "extragradient":
                m = mu * m + w(x)
                m = mu * m + w(clip(x + H * m))
                x = clip(x + H * m)
            else:
                m = mu * m + w(x)
                delta = H * m
                x = clip(x + 2 * delta - (delta if previous is None else previous))
                previous = delta
            out[i] = x
    return out


def distance(points) -> np.ndarray:
    """Euclidean distance of (..., 2) points from the equilibrium (0, 0)."""
    return np.hypot(*np.moveaxis(np.asarray(points, dtype=float), -1, 0))


def summary(game: Game, theta0: float = 1.0, psi0: float = 1.0, steps: int = 500) -> dict:
    """Everything the headless run prints: spectra at the equilibrium and where ``steps`` end.

    Returns
    -------
    dict
        JSON-ready: ``eigenvalues`` and ``update_eigenvalues`` as lists of [re, im],
        ``spectral_radius``, ``momentum``, and ``theta``, ``psi``, ``distance`` after
        ``steps``.
    """
    path = trajectory(game, theta0, psi0, steps)
    theta, psi = (float(v) for v in path[-1])
    return {
        "dynamics": game.kind, "loss": game.loss, "update": game.update, "steps": steps,
        "momentum": game.momentum,
        "eigenvalues": _pairs(eigenvalues(game)),
        "update_eigenvalues": _pairs(update_eigenvalues(game)),
        "spectral_radius": spectral_radius(game),
        "theta": theta, "psi": psi, "distance": float(distance(path[-1])),
    }


def write_csv(path, points) -> None:
    """Write a trajectory as CSV (step, theta, psi, distance), atomically.

    Parameters
    ----------
    path : str or Path
    points : array_like
        (n, 2) the iterates of :func:`trajectory`, the start first (step 0).
    """
    import csv

    from .files import atomic_open

    points = np.asarray(points, dtype=float)
    with atomic_open(path, "w", what="--csv", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("step", "theta", "psi", "distance"))
        for i, (point, dist) in enumerate(zip(points, distance(points))):
            writer.writerow((i, repr(float(point[0])), repr(float(point[1])), repr(float(dist))))


def _pairs(values: np.ndarray) -> list[list[float]]:
    return [[float(v.real), float(v.imag)] for v in values]
