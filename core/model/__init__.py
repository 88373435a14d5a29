"""The low-light anomaly detection network, one file a part.

- :mod:`lfe`: Low-pass Feature Enhancement (keeps low-frequency content of noisy low-light features)
- :mod:`ife`: Illumination-aware Feature Enhancement (estimates an illumination map, corrects features with it)
- :mod:`aff`: Adaptive Feature Fusion (channel + spatial attention over the LFE and IFE outputs)
- :mod:`decoder`: blind-spot context reconstruction of well-lit features at every scale
- :mod:`loss`: training loss
- :mod:`net`: the assembled network and its configuration
- :mod:`detector`: encoder, network and the post-processor's scoring wired for inference

The scoring stages fitted on good parts after training, which :mod:`core.postprocess` holds and saves per input
mode, each a :class:`~core.model.stage.Stage` with its settings: :mod:`anomaly_map` (whitening, position baseline,
the map and its score), :mod:`density`, :mod:`region_contrast`, :mod:`foreign_region`,
:mod:`image_density`, :mod:`image_gate`.
"""

from core.model.net import LowLightAnomalyNet, NetConfig, NetOutput

__all__ = ["LowLightAnomalyNet", "NetConfig", "NetOutput"]
