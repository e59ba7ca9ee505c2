"""What a run needs, known before anything is allocated: its networks' shapes and its memory.

Torch-free (plain integers), so that a config is checked, and a session file's
weights are checked against it, in the window's process too.

The memory estimate was fitted to peak resident memory measured with the fast
engine on the CPU (float32): a training step keeps about 8-9 floats per
sample, hidden unit and layer (forward activations of G and D on the real and
the generated batch, and their gradients; WGAN-GP's double backward about one
more), and the weights cost about four copies of themselves plus one per
optimizer buffer (weights, gradients, a kept good state, the state sent to
the window). The probe evaluates 10^4 samples (10^5 on CUDA) through G and D
without gradients.
"""

from __future__ import annotations

import functools
import os

#: Bytes of one float32.
FLOAT_BYTES = 4
#: Samples the probe evaluates through G and D at each measurement (on the CPU).
PROBE_SAMPLES = 10_000
#: What a run may take of the machine's memory: the rest is for the system, the
#: window and the other programs a teacher has open.
MEMORY_FRACTION = 1 / 3
#: Memory of the process before the run's tensors (torch and its libraries).
BASE_BYTES = 500 * 10**6
#: Running buffers per optimizer (as ``config.OPTIMIZER_BUFFERS``).
_BUFFERS = {"sgd": 1, "adam": 2, "rmsprop": 1}


def network_shapes(dim: int, z_dim: int, hidden: int, layers: int) -> dict[str, dict[str, tuple]]:
    """The parameter shapes of G and D, by their ``state_dict`` names.

    Returns
    -------
    dict
        ``{"G": {name: shape}, "D": {name: shape}}``: G maps z (z_dim) to x (dim),
        D maps x (dim) to one logit; ``layers`` hidden layers of width ``hidden``.
    """
    def mlp(n_in: int, n_out: int) -> dict[str, tuple]:
        sizes = [n_in] + [hidden] * layers
        shapes = {}
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            shapes[f"hidden.{i}.weight"] = (b, a)
            shapes[f"hidden.{i}.bias"] = (b,)
        shapes["head.weight"] = (n_out, sizes[-1])
        shapes["head.bias"] = (n_out,)
        return shapes

    return {"G": mlp(z_dim, dim), "D": mlp(dim, 1)}


def parameter_count(dim: int, z_dim: int, hidden: int, layers: int) -> dict[str, int]:
    """Numbers of parameters of G and D: ``{"G": int, "D": int}``."""
    out = {}
    for net, shapes in network_shapes(dim, z_dim, hidden, layers).items():
        total = 0
        for shape in shapes.values():
            n = 1
            for s in shape:
                n *= s
            total += n
        out[net] = total
    return out


def run_bytes(dim: int, z_dim: int, hidden: int, layers: int, batch_size: int,
              optimizer: str = "adam", loss: str = "nonsaturating", cuda: bool = False) -> int:
    """Estimated peak memory of one run, in bytes (see the module's note for the model)."""
    params = sum(parameter_count(dim, z_dim, hidden, layers).values())
    weights = (4 + _BUFFERS.get(optimizer, 2)) * params
    per_unit = 10 if loss == "wgan-gp" else 9
    width = max(hidden, z_dim, dim)
    step = per_unit * batch_size * width * layers
    probe = 3 * (10 * PROBE_SAMPLES if cuda else PROBE_SAMPLES) * width
    return BASE_BYTES + FLOAT_BYTES * (weights + step + probe)


@functools.lru_cache(maxsize=1)
def physical_memory() -> int:
    """Bytes of memory this process can use: the machine's, or its container's limit if lower.

    Read without dependencies (``sysconf``, cgroups); 8 GB when neither can be read.
    """
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:  # "max", or a huge number: no limit
            sizes.append(int(text))
    return min(sizes) if sizes else 8 * 10**9


def memory_limit() -> int:
    """Bytes a run may use: MEMORY_FRACTION of :func:`physical_memory`."""
    return int(physical_memory() * MEMORY_FRACTION)


def check_memory(dim: int, z_dim: int, hidden: int, layers: int, batch_size: int,
                 optimizer: str = "adam", loss: str = "nonsaturating", cuda: bool = False) -> None:
    """Raise ValueError when :func:`run_bytes` exceeds :func:`memory_limit`.

    The message is one line with the estimate and the limit, e.g. "hidden=8192
    layers=16 batch_size=256 needs about 52.1 GB; this machine allows 8.2 GB".
    """
    need, limit = run_bytes(dim, z_dim, hidden, layers, batch_size, optimizer, loss, cuda), memory_limit()
    if need > limit:
        raise ValueError(
            f"hidden={hidden} layers={layers} batch_size={batch_size} needs about "
            f"{need / 1e9:.1f} GB; this machine allows {limit / 1e9:.1f} GB "
            f"(a third of its memory): lower hidden, layers or batch_size")
