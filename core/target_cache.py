"""The target cache of the training steps and the memory it needs handed back.

A step's target (the well-lit image's encoder features on the reconstruction's grid) depends only on the sample and
its flips, never on the random camera that darkens the input, so :class:`TargetCache` keeps each one after its first
use, within a budget of the memory available (:func:`cache_budget`). When the steps end the cache is let go and
:func:`release_free_memory` gives what the C allocator holds free back to the system (glibc ``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import functools
import sys

import torch


def available_memory_bytes() -> int | None:
    """Memory the system can hand out now without swapping (Linux ``MemAvailable``); ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def release_free_memory() -> bool:
    """Hand the memory the C allocator holds free back to the system (glibc's ``malloc_trim``; elsewhere nothing
    is done). Tensors freed between training's stages stay resident otherwise: the target cache alone leaves up to
    its budget behind, which the next stage's allocations do not always reuse, and which an application that
    trained in-process would keep for as long as it runs. True when the call was made."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


@functools.cache
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; musl has no malloc_trim
    except (OSError, AttributeError):
        return None


def cache_budget(cap_mb: int, available: int | None) -> int:
    """Bytes the target cache may hold: ``cap_mb``, but at most a quarter of the memory available when training
    starts, so a small PC trains without swapping (just more slowly: targets past the bound are recomputed)."""
    cap = int(cap_mb) * 2**20
    return cap if available is None else max(0, min(cap, available // 4))


class TargetCache:
    """Aligned target features per (item, flips), computed once and kept in float16.

    A target depends only on the item and its flips (never on the random low-light synthesis), so after its first
    use it costs nothing: this removes most of the second encoder pass of every step. Bounded by ``max_bytes``;
    past it, targets are computed afresh each time.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self.store: dict[tuple[int, bool, bool], torch.Tensor] = {}

    def get(self, key: tuple[int, bool, bool]) -> torch.Tensor | None:
        hit = self.store.get(key)
        return None if hit is None else hit.float()

    def put(self, key: tuple[int, bool, bool], value: torch.Tensor) -> None:
        size = value.numel() * 2
        if key not in self.store and self.bytes + size <= self.max_bytes:
            self.store[key] = value.to(torch.float16).clone()
            self.bytes += size
