"""CUDA-graph capture of the fast engine's iteration."""

from __future__ import annotations

import os

import torch


def _pack(record: tuple) -> torch.Tensor:
    """One iteration's scalars as a STEP_STATS row."""
    loss_d, means, gn_d, loss_g, gn_g = record
    return torch.cat([torch.stack([loss_d, loss_g, gn_g, gn_d]), means])


class _StepGraph:
    """An iteration captured in a CUDA graph and replayed: one launch instead of ~80.

    CUDA only, and UNTESTED on a GPU so far (written on a CPU-only machine;
    tests/test_trainer_fast.py has the CUDA checks, skipped without a device).
    Samples are drawn eagerly from the run's generator, exactly as without
    the graph, and copied into the graph's static inputs, so the numbers are
    the eager ones. What a capture bakes in (the config's learning rates, k,
    batch size, loss; the optimizer objects) is its key: a new key runs
    ``WARMUP`` eager iterations on a side stream, then captures again. Any
    failure turns graphs off for the run (a warning says why) and training
    goes on eagerly. ``GANVIZ_CUDA_GRAPH=0`` turns them off.
    """

    WARMUP = 3

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.key = None
        self.graph = None
        self.warm = 0
        self.stream = torch.cuda.Stream(device=engine.device)

    @staticmethod
    def wanted(engine: "Engine") -> bool:
        return (
            engine.device.type == "cuda"
            and os.environ.get("GANVIZ_CUDA_GRAPH", "1") != "0"
            and hasattr(torch.cuda, "CUDAGraph")
        )

    def run(self, draws, gdraw) -> torch.Tensor | tuple | None:
        """This iteration's record, trained through the graph; None: train eagerly."""
        e = self.engine
        # The noise's presence too: annealed instance noise ends mid-run.
        key = (e.config, e._optimizers_built, e.frozen, tuple(t is None for d in draws + [gdraw] for t in d))
        if key != self.key:
            self.key, self.graph, self.warm = key, None, 0
        try:
            if self.graph is None:
                # Adam's bias correction must come from its device step count.
                if not all(getattr(o, "fused", True) for o in (e.opt_d, e.opt_g)):
                    raise RuntimeError("the optimizer keeps Python state a graph would freeze")
                if self.warm < self.WARMUP:
                    self.warm += 1
                    current = torch.cuda.current_stream(e.device)
                    self.stream.wait_stream(current)
                    with torch.cuda.stream(self.stream):
                        record = e._iteration(draws, gdraw)
                    current.wait_stream(self.stream)
                    return record
                self._capture(draws, gdraw)
            torch._foreach_copy_(self.inputs, [t for d in draws + [gdraw] for t in d if t is not None])
            self.graph.replay()
            return self.packed.clone()
        except Exception as exc:  # noqa: BLE001 - any failure: eager from now on
            import warnings

            warnings.warn(f"CUDA graph disabled for this run ({type(exc).__name__}: {exc}); training eagerly")
            e._graph = None
            return None

    def _capture(self, draws, gdraw) -> None:
        e = self.engine
        statics = [tuple(None if t is None else torch.empty_like(t) for t in d) for d in draws + [gdraw]]
        self.inputs = [t for d in statics for t in d if t is not None]
        graph = torch.cuda.CUDAGraph()
        torch.cuda.synchronize(e.device)
        with torch.cuda.graph(graph):  # records the kernels; runs none of them
            self.packed = _pack(e._iteration(statics[:-1], statics[-1]))
        self.graph = graph
