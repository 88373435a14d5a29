"""Runtime hook of the CPU-only bundle: hide every GPU before torch is imported.

The bundle keeps the CUDA libraries `import torch` links against but not the ones a GPU run loads later (cuDNN's
engines, cuSOLVER and torch's CUDA linear algebra). On a machine with an NVIDIA driver, torch.cuda.is_available()
would otherwise say yes and the first convolution would fail; with no visible device the predictor and training
stay on the CPU.
"""

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
