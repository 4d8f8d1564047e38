import os
import sys

import matplotlib

matplotlib.use("Agg")

# Triton kernels run on the CPU only under the interpreter, which must be set before they are defined.
try:
    import torch
    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")
except ImportError:  # pragma: no cover
    pass


import pytest  # noqa: E402


@pytest.fixture
def register_experiment(monkeypatch):
    """Register a module as the experiment ``module.NAME`` for one test, as discovery would find it
    (importable as ``rglt.experiments.<NAME>`` and listed by ``experiments.names()``)."""
    from rglt import experiments
    from rglt.experiments import _registry

    def register(module):
        monkeypatch.setitem(sys.modules, f"{_registry.PACKAGE}.{module.NAME}", module)
        known = _registry.names()
        names = lambda: sorted({*known, module.NAME})  # noqa: E731
        monkeypatch.setattr(_registry, "names", names)
        monkeypatch.setattr(experiments, "names", names)
        return module

    return register
