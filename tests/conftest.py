import os

import matplotlib

matplotlib.use("Agg")

# Triton kernels run on the CPU only under the interpreter, which must be set before they are defined.
try:
    import torch
    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
except ImportError:  # pragma: no cover
    pass
