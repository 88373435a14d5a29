"""The training steps' target cache: what it keeps, its bound, that it is let go before calibration, and the memory
given back to the system afterwards."""

from __future__ import annotations

import os
import sys
import weakref

import pytest
import torch

from core import train_loop
from core.target_cache import TargetCache, available_memory_bytes, cache_budget, release_free_memory
from core.training import fit, preset


def test_cache_keeps_targets_in_half_precision_within_its_bound():
    row = torch.linspace(-2, 2, 100)
    cache = TargetCache(max_bytes=2 * 100 * 2)  # room for two rows of 100 half-precision values
    assert cache.get((0, False, False)) is None
    cache.put((0, False, False), row)
    cache.put((1, True, False), row * 2)
    cache.put((2, False, True), row * 3)  # past the bound: not kept
    assert cache.bytes == 400 and cache.get((2, False, True)) is None
    hit = cache.get((1, True, False))
    assert hit.dtype == torch.float32 and torch.allclose(hit, row * 2, atol=2e-3)
    row.fill_(0)  # the cache holds its own copy
    assert torch.allclose(cache.get((0, False, False)), torch.linspace(-2, 2, 100), atol=2e-3)


def test_target_cache_stays_within_a_quarter_of_the_available_memory():
    available = available_memory_bytes()
    assert available is not None and 0 < available < 2**50  # this machine is Linux: MemAvailable is read
    assert cache_budget(1536, 2 * 2**30) == 512 * 2**20  # a PC with 2 GB free: a quarter of it
    assert cache_budget(1536, 64 * 2**30) == 1536 * 2**20  # plenty free: the configured bound
    assert cache_budget(1536, None) == 1536 * 2**20  # unknown: the configured bound


def test_target_cache_is_let_go_before_calibration(generated, monkeypatch):
    """The cached targets serve the training steps only: by the first calibration event the cache and the
    features in it are gone, so calibration's own features reuse that memory instead of adding to it."""
    caches = []

    class Watched(TargetCache):
        def __init__(self, max_bytes):
            super().__init__(max_bytes)
            caches.append(weakref.ref(self))

    monkeypatch.setattr(train_loop, "TargetCache", Watched)
    run = fit(generated.train[:12], preset("tiny", steps=3, swap_images=0, refinish_images=0))
    stages = []
    for event in run:  # ``run`` stays referenced: a closed generator would free everything anyway
        stages.append(event.stage)
        held = caches[0]() if caches else None
        if event.stage == "train":
            assert held is not None and held.bytes > 0  # filled by the steps
        if event.stage == "calibrate":
            assert held is None
            break
        del held
    assert stages[-1] == "calibrate" and len(caches) == 1


def _resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_tensors_go_back_to_the_system_when_released():
    # a freed 8 MB block raises glibc's threshold for taking memory straight from the system past the 1 MB blocks
    # below: they come from the heap, like the target cache's rows, and freeing them leaves them resident
    large = torch.ones(8 * 2**20, dtype=torch.uint8)
    del large
    blocks = [torch.ones(2**20, dtype=torch.uint8) for _ in range(300)]
    keeper = torch.ones(2**20, dtype=torch.uint8)  # above them in the heap: freeing them cannot shrink it
    held = _resident_mb()
    del blocks
    freed = _resident_mb()
    assert release_free_memory()
    released = _resident_mb()
    assert held - freed < 100  # freeing alone gave back little
    assert freed - released > 200  # released: most of the 300 MB
    del keeper
