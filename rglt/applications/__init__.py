"""Chapter 5's analyses of tickets, one module per topic: what a mask costs to store (``entropy``,
``coding``), how much two tickets share (``overlap``), the curvature a mask leaves (``hessian``), the
learning rates a ticket trains at (``learning_rate``), and distillation into a ticket (``distill``)."""
from .coding import COMPRESSORS, PRECISIONS, decode_ticket, dense_size, encode_ticket
from .distill import distillation_criterion, ensemble_teacher
from .entropy import MODELS, binary_entropy, code_length, code_lengths, empirical_entropy_bits, log2_binomial
from .hessian import critical_learning_rate, hessian_vector_product, top_eigenvalue
from .overlap import jaccard, random_jaccard

__all__ = ["COMPRESSORS", "MODELS", "PRECISIONS", "binary_entropy", "code_length", "code_lengths",
           "critical_learning_rate", "decode_ticket", "dense_size", "distillation_criterion", "empirical_entropy_bits",
           "encode_ticket", "ensemble_teacher", "hessian_vector_product", "jaccard", "log2_binomial", "random_jaccard", "top_eigenvalue"]
