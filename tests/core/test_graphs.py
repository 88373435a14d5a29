"""Traced inference graphs: one per input signature, the eager outputs to float rounding, never stale after the
weights change, and an eager fallback for what the tracer cannot take."""

from __future__ import annotations

import torch
from torch import nn

from core.graphs import GraphCache, tensors_state, weights_version


class _Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class _Untraceable(nn.Module):
    def forward(self, x: torch.Tensor):
        return {"mean": float(x.mean())}  # a Python number cannot be a traced output


def test_one_graph_per_signature_with_the_eager_outputs() -> None:
    torch.manual_seed(0)
    module = _Small().eval()
    cache = GraphCache(lambda: module, optimize=True, max_graphs=2)
    a, b, c = torch.rand(1, 3, 16, 16), torch.rand(2, 3, 16, 16), torch.rand(1, 3, 20, 16)
    with torch.inference_mode():
        torch.testing.assert_close(cache(a), module(a), rtol=1e-5, atol=1e-5)
        graph = cache.graph(a)
        again = torch.rand(1, 3, 16, 16)
        assert cache.graph(again) is graph and len(cache) == 1  # the same shape again: no new trace
        torch.testing.assert_close(cache(again), module(again), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cache(b), module(b), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cache(c), module(c), rtol=1e-5, atol=1e-5)
    assert len(cache) == 2  # the least recently used graph made room


def test_with_any_batch_one_graph_serves_every_batch_size() -> None:
    torch.manual_seed(2)
    module = _Small().eval()
    cache = GraphCache(lambda: module, any_batch=True)
    with torch.no_grad():
        for batch in (1, 3, 8):
            x = torch.rand(batch, 3, 16, 16)
            torch.testing.assert_close(cache(x), module(x), rtol=1e-5, atol=1e-5)
        assert len(cache) == 1
        cache(torch.rand(2, 3, 12, 16))
    assert len(cache) == 2  # another image size is another graph


def test_a_graph_follows_the_weights_when_they_change() -> None:
    torch.manual_seed(1)
    module = _Small()
    cache = GraphCache(lambda: module, version=lambda: weights_version(module))
    x = torch.rand(4, 3, 16, 16)
    module.eval()
    with torch.no_grad():
        before = cache(x)
    module.train()
    optim = torch.optim.SGD(module.parameters(), lr=0.5)
    module(x).square().mean().backward()
    optim.step()  # in place: the weights' version moves
    module.eval()
    with torch.no_grad():
        after = cache(x)
        torch.testing.assert_close(after, module(x), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(before, after)


def test_what_the_tracer_cannot_take_runs_eagerly_and_is_not_traced_again() -> None:
    made = []

    def make() -> nn.Module:
        made.append(1)
        return _Untraceable()

    cache = GraphCache(make)
    x = torch.rand(2, 3)
    with torch.no_grad():
        assert cache(x) is None and cache(x) is None
    assert len(made) == 1 and len(cache) == 0


def test_a_pass_that_may_need_gradients_gets_no_graph() -> None:
    module = _Small().eval()
    cache = GraphCache(lambda: module)
    assert cache(torch.rand(1, 3, 8, 8)) is None and len(cache) == 0  # gradients on: the caller runs it eagerly
    with torch.no_grad():
        assert cache(torch.rand(1, 3, 8, 8)) is not None and len(cache) == 1


def test_tracing_leaves_the_live_module_in_its_own_mode() -> None:
    module = _Small().train()
    cache = GraphCache(lambda: module)
    with torch.no_grad():
        assert cache(torch.rand(2, 3, 8, 8)) is not None
    assert module.training and module.bn.training


def test_a_buffer_replaced_by_a_fit_changes_the_tensors_state_where_the_version_sum_may_not() -> None:
    """A fit that sizes its buffers assigns new tensors: their versions start again at zero, so a sum of versions
    can come back to a value a graph was traced at; the tensors' storage tells them apart."""
    module = _Small()
    module.register_buffer("centre", torch.zeros(8))
    state, version = tensors_state(module), weights_version(module)
    assert tensors_state(module) == state  # nothing written: the same state
    module.centre = torch.ones(8)  # replaced, as a fit does: a fresh tensor at version 0
    assert weights_version(module) == version and tensors_state(module) != state
    replaced = tensors_state(module)
    module.centre.add_(1)  # written in place
    assert tensors_state(module) != replaced
    module.centre = torch.ones(12)  # resized
    assert len({tensors_state(module), replaced, state}) == 3


def test_a_version_that_comes_back_is_traced_again_not_served_an_older_graph() -> None:
    """Storage is reused, so a state of the weights can repeat after two changes: graphs of an earlier version are
    dropped when the version changes, never kept for its return."""
    made = []
    version = [0]

    def make() -> nn.Module:
        made.append(1)
        return _Small().eval()

    cache = GraphCache(make, version=lambda: version[0])
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        first = cache.graph(x)
        assert cache.graph(x) is first and len(made) == 1
        version[0] = 1
        cache.graph(x)
        version[0] = 0
        assert cache.graph(x) is not first and len(made) == 3 and len(cache) == 1
