"""Training loss: per-position cosine distance between reconstructed and well-lit target features.

Cosine distance is what the anomaly map measures, so training minimises exactly the quantity that must be low
on good parts. A global (flattened) cosine term per scale is added, as in reverse distillation, so the overall
feature pattern also matches and the loss does not settle for matching only the easy positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def reconstruction_loss(
    recon: Sequence[torch.Tensor], target: Sequence[torch.Tensor], global_weight: float = 0.5
) -> torch.Tensor:
    total = recon[0].new_zeros(())
    for r, t in zip(recon, target):
        local = (1 - F.cosine_similarity(r, t, dim=1, eps=1e-6)).mean()
        glob = (1 - F.cosine_similarity(r.flatten(1), t.flatten(1), dim=1, eps=1e-6)).mean()
        total = total + local + global_weight * glob
    return total / len(recon)
