"""The image gate on its own: how it scales a map by the image score, its limits, what it refuses, its state."""

from __future__ import annotations

import math

import pytest
import torch

from core.model.image_gate import ImageGate


def _fitted(center: float = 1.0, spread: float = 0.5, n: int = 201, share: float = 1.0) -> ImageGate:
    """A gate fitted on good scores whose logs are spread evenly, median ``center`` and the robust spread
    ``spread`` (the scaled median absolute deviation)."""
    half = spread / 1.4826
    logs = center + torch.linspace(-2 * half, 2 * half, n, dtype=torch.float64)
    gate = ImageGate()
    gate.fit(logs.exp(), share)
    return gate


def test_until_fitted_the_map_is_left_as_it_is():
    gate = ImageGate()
    amap = torch.rand(3, 1, 8, 8)
    assert gate(amap, torch.tensor([0.1, 1.0, 50.0])) is amap
    assert torch.equal(gate.factors(torch.tensor([0.1, 5.0])), torch.ones(2))


def test_a_typical_good_score_keeps_the_map_and_each_spread_above_or_below_moves_its_log_by_the_weight():
    gate = _fitted(center=1.0, spread=0.5)
    assert float(gate.center) == pytest.approx(1.0, abs=1e-6)
    assert float(gate.spread) == pytest.approx(0.5, rel=1e-3)
    scores = torch.tensor([math.exp(1.0), math.exp(1.5), math.exp(0.5)])
    factors = gate.factors(scores)
    w = ImageGate.max_weight
    torch.testing.assert_close(factors, torch.tensor([1.0, math.exp(w), math.exp(-w)]), rtol=2e-3, atol=1e-6)
    amap = torch.rand(3, 1, 8, 8) - 0.2
    torch.testing.assert_close(gate(amap, scores), amap * factors.view(-1, 1, 1, 1))


def test_far_from_good_scores_the_factor_stops_at_its_cap_and_floor():
    """A part far above good parts is brightened by exp(weight x cap) at most, one far below (or scoring zero)
    dimmed by exp(-weight x floor) at most, so one image cannot outshine the others' defects without limit."""
    gate = _fitted(center=0.0, spread=0.2)
    w = ImageGate.max_weight
    factors = gate.factors(torch.tensor([1e6, 1e-6, 0.0, -3.0]))
    expected = [math.exp(w * ImageGate.z_cap)] + [math.exp(-w * ImageGate.z_floor)] * 3
    torch.testing.assert_close(factors, torch.tensor(expected))
    assert math.exp(w * ImageGate.z_cap) < 3 and math.exp(-w * ImageGate.z_floor) > 0.25


def test_its_weight_follows_the_image_densitys_share_and_without_it_the_map_is_left_as_it_is():
    """Without the image density the image score is the map's own, and the gate would only sharpen the map by
    itself: its weight is the image density's share of its full weight times :attr:`ImageGate.max_weight`."""
    half = _fitted(center=0.0, spread=0.5, share=0.5)
    assert float(half.weight) == pytest.approx(ImageGate.max_weight / 2)
    torch.testing.assert_close(half.factors(torch.tensor([math.exp(0.5)])), torch.tensor([math.exp(half.weight)]))
    none = _fitted(center=0.0, spread=0.5, share=0.0)
    amap = torch.rand(2, 1, 8, 8)
    assert none.is_fitted and none(amap, torch.tensor([1e-6, 1e6])) is amap
    with pytest.raises(ValueError, match="share"):
        ImageGate().fit(torch.tensor([1.0, 2.0, 3.0]), 1.5)


def test_it_refuses_too_few_or_identical_good_scores():
    with pytest.raises(ValueError, match="two good images"):
        ImageGate().fit(torch.tensor([2.0]))
    with pytest.raises(ValueError, match="differ"):
        ImageGate().fit(torch.full((5,), 2.0))
    mostly_equal = torch.tensor([2.0, 2.0, 2.0, 2.0, 3.0])  # no median deviation: falls back on the deviation
    gate = ImageGate()
    gate.fit(mostly_equal)
    assert gate.is_fitted and float(gate.spread) > 0


def test_the_gate_round_trips_through_its_state():
    gate = _fitted(center=-0.3, spread=0.7)
    again = ImageGate()
    again.load_state_dict(gate.state_dict())
    scores = torch.tensor([0.2, 0.7, 3.0])
    assert again.is_fitted
    torch.testing.assert_close(again.factors(scores), gate.factors(scores))
