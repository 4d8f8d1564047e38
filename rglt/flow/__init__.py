"""RG-Flow: patch geometry, couplings, residual MLPs, priors, logit preprocessing, bits/dim.

- ``RGFlow``: the model (forward / inverse / log_prob / sample / latents per RG level);
- ``gather_patches`` / ``scatter_patches`` / ``layer_index`` / ``level_of_sites``: the geometry
  (the reference for a fused kernel);
- ``preprocess`` / ``dequantize`` / ``logit_transform`` / ``inverse_logit_transform`` / ``to_uint8``;
- ``prior_log_prob`` / ``prior_sample`` / ``prior_scale``: Gaussian and Laplace priors in the original's
  and the report's temperature parametrisations;
- ``bits_per_dim`` / ``evaluate_bpd``; ``parameter_count``: the closed-form parameter count;
- ``TrainingDiverged``: what :func:`rglt.flow.training.train_flow` raises on a non-finite loss or gradient;
- :mod:`rglt.flow.analysis`: receptive fields, generation across scales, mixing, mixed temperatures;
- :mod:`rglt.flow.frechet`: Frechet distance in a pluggable feature space (Inception or the MSDS CNN).
"""
from rglt.flow.analysis import (colour_share, generation_across_scales, latent_sensitivity, mix_along_scale, mix_latents,
                                mixed_temperature_latents, receptive_field_extent, receptive_fields,
                                sample_mixed_temperature)
from rglt.flow.count import parameter_count
from rglt.flow.frechet import (extract_features, feature_statistics, frechet_distance, frechet_distance_between,
                               inception_features, msds_feature_net, train_msds_feature_net)
from rglt.flow.coupling import SubnetLayer, checkerboard_mask
from rglt.kernels.rg_coupling.geometry import (check_geometry, gather_patches, layer_index, level_of_sites,
                                               rg_layer_indices, scatter_patches)
from rglt.flow.layers import ResidualMLP, Swish, WNLinear
from rglt.flow.metrics import bits_per_dim, evaluate_bpd
from rglt.flow.model import RGFlow, RGLayer, backend_outputs
from rglt.flow.preprocess import dequantize, inverse_logit_transform, logit_transform, preprocess, to_uint8
from rglt.flow.priors import PARAMETRISATIONS, PRIORS, prior_log_prob, prior_sample, prior_scale
from rglt.flow.training import TrainingDiverged

__all__ = ["backend_outputs", "PARAMETRISATIONS", "PRIORS", "RGFlow", "RGLayer", "ResidualMLP", "SubnetLayer", "Swish", "WNLinear",
           "bits_per_dim", "check_geometry", "extract_features", "feature_statistics", "frechet_distance",
           "frechet_distance_between", "colour_share", "generation_across_scales", "inception_features", "latent_sensitivity",
           "mix_along_scale", "mix_latents", "mixed_temperature_latents", "msds_feature_net", "receptive_field_extent",
           "receptive_fields", "sample_mixed_temperature", "train_msds_feature_net", "checkerboard_mask", "dequantize", "evaluate_bpd", "gather_patches",
           "inverse_logit_transform", "layer_index", "level_of_sites", "logit_transform", "parameter_count",
           "preprocess", "prior_log_prob", "prior_sample", "prior_scale", "rg_layer_indices", "scatter_patches",
           "to_uint8", "TrainingDiverged"]
