"""The low-light anomaly detection network, one file a part.

- :mod:`lfe`: Low-pass Feature Enhancement (keeps low-frequency content of noisy low-light features)
- :mod:`ife`: Illumination-aware Feature Enhancement (estimates an illumination map, corrects features with it)
- :mod:`aff`: Adaptive Feature Fusion (channel + spatial attention over the LFE and IFE outputs)
- :mod:`decoder`: blind-spot context reconstruction of well-lit features at every scale
- :mod:`anomaly_map`: per-scale feature discrepancy into one pixel map and an image score
- :mod:`loss`: training loss
- :mod:`net`: the assembled network and its configuration
"""

from core.model.net import LowLightAnomalyNet, NetConfig, NetOutput

__all__ = ["LowLightAnomalyNet", "NetConfig", "NetOutput"]
