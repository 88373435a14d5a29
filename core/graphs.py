"""Traced, frozen TorchScript graphs for the no-gradient passes on the CPU: fewer trips through Python and eager
dispatch than calling a module's ``forward``.

At inspection every image is a batch of one, and the network's three scales are small maps: much of a pass is the
cost of calling a few hundred small operations one by one. ``torch.jit.trace`` records the pass once per input
shape, ``torch.jit.freeze`` turns the weights into constants (folding each batch norm into its convolution), and,
where the graph allows it, ``torch.jit.optimize_for_inference`` keeps the activations in oneDNN's blocked layout
between convolutions and fuses each convolution with its activation. The outputs equal the eager pass's to float
rounding.

A graph is kept per input shapes and dtypes, for the current version of the weights only: when it changes, every
graph is dropped, so a module whose weights change never runs a stale graph. With ``any_batch``, the batch size
is left out of the shapes: a graph traced at one batch size runs at any other, which holds for a module that does
nothing by the batch size (the encoder's trunk and the network: tests compare such a graph with the eager pass at
another batch size). Tracing takes about a second and happens once per shape; a shape whose trace fails is run
eagerly from then on, so a graph is only ever an acceleration. A graph runs a module as in eval mode: callers use
it only for a module in eval mode.

``torch.jit`` is deprecated in favour of ``torch.compile``, which needs a C++ compiler at run time that a factory
PC or the packaged application does not have; the pinned torch keeps ``torch.jit``, and its deprecation notices are
silenced here.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch
from torch import nn


def _signature(value, any_batch: bool) -> tuple:
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape[1:] if any_batch else value.shape), value.dtype)
    return tuple(_signature(v, any_batch) for v in value)


def _tensors(value) -> list[torch.Tensor]:
    return [value] if isinstance(value, torch.Tensor) else [t for v in value for t in _tensors(v)]


def weights_version(module: nn.Module) -> int:
    """Changes whenever a parameter or buffer of ``module`` is written in place (an optimiser step, a
    ``load_state_dict``). Inference tensors keep no version and are left out."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t._version for t in tensors if not t.is_inference())


def tensors_state(*modules: nn.Module) -> tuple:
    """Changes whenever a parameter or buffer of ``modules`` is written in place, or replaced by another tensor
    (as a fit that sizes its buffers does): each tensor's storage, version (none for an inference tensor) and
    shape. A version for modules whose tensors are replaced, which :func:`weights_version` alone does not see."""
    return tuple(
        (t.data_ptr(), -1 if t.is_inference() else t._version, tuple(t.shape))
        for m in modules
        for t in (*m.parameters(), *m.buffers())
    )


class GraphCache:
    """Graphs of one module for inference, one per input signature.

    ``make_module`` builds the module to trace (in eval mode, returning a tensor or a tuple of tensors) from the
    live one; ``version`` tells when the live module's weights have changed; ``optimize`` asks for oneDNN's
    inference passes on top of freezing; ``any_batch`` lets one graph serve every batch size.
    """

    def __init__(
        self,
        make_module: Callable[[], nn.Module],
        *,
        optimize: bool = False,
        any_batch: bool = False,
        version: Callable[[], Hashable] | None = None,
        max_graphs: int = 8,
    ) -> None:
        self.make_module = make_module
        self.optimize = optimize
        self.any_batch = any_batch
        self.version = version or (lambda: 0)
        self.max_graphs = max_graphs
        self._graphs: OrderedDict[tuple, torch.jit.ScriptModule] = OrderedDict()
        self._failed: set[tuple] = set()
        self._weights = None  # the version the graphs (and failed traces) are of
        self._lock = threading.Lock()

    def __call__(self, *inputs):
        """The graph's outputs for ``inputs``, or ``None`` where no graph runs them: a pass that may need gradients
        (a graph keeps none), inputs off the CPU, or a signature whose trace failed. The caller then runs the
        module eagerly."""
        if torch.is_grad_enabled() or any(t.device.type != "cpu" for t in _tensors(inputs)):
            return None
        graph = self.graph(*inputs)
        return None if graph is None else graph(*inputs)

    def graph(self, *inputs) -> torch.jit.ScriptModule | None:
        key, weights = _signature(inputs, self.any_batch), self.version()
        with self._lock:
            if weights != self._weights:
                # graphs hold the weights they were traced with: those of another version are never run again (a
                # version may come back after two changes, as storage is reused, but not with an older graph)
                self._graphs.clear()
                self._failed.clear()
                self._weights = weights
            if key in self._graphs:
                self._graphs.move_to_end(key)
                return self._graphs[key]
            if key in self._failed:
                return None
            graph = self._trace(inputs)
            if graph is None:
                self._failed.add(key)
                return None
            self._graphs[key] = graph
            while len(self._graphs) > self.max_graphs:
                self._graphs.popitem(last=False)
            return graph

    def __len__(self) -> int:
        return len(self._graphs)

    def _trace(self, inputs) -> torch.jit.ScriptModule | None:
        module = self.make_module()
        modes = [(m, m.training) for m in module.modules()]  # traced in eval mode, given back its own after
        try:
            with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch.jit's deprecation and tracer notices: nothing a user can do
                traced = torch.jit.trace(module.eval(), _examples(inputs), check_trace=False)
                graph = torch.jit.freeze(traced)
                return torch.jit.optimize_for_inference(graph) if self.optimize else graph
        except Exception:  # an operation the tracer or oneDNN does not take: the eager pass is always there
            return None
        finally:
            for m, training in modes:
                m.training = training


def _examples(value):
    """Zero tensors like ``value`` (same shapes, dtypes and memory layout), made outside inference mode: a trace
    cannot keep inference tensors."""
    if isinstance(value, torch.Tensor):
        channels_last = value.dim() == 4 and value.is_contiguous(memory_format=torch.channels_last)
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return torch.zeros(value.shape, dtype=value.dtype).contiguous(memory_format=layout)
    return tuple(_examples(v) for v in value)
