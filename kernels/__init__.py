"""Triton kernels for rglt's hot paths, installed as ``rglt.kernels``.

One folder per op (``reference.py`` in PyTorch, ``triton.py`` with the ``@triton.jit`` code, and an
``__init__.py`` with input checks and dispatch). The ops themselves arrive with the pruning engine
(masked magnitude top-k) and RG-Flow (fused patch couplings); nothing here is used yet.
"""
