"""Lottery Pools (seed 003): interpolating the tickets IMP leaves behind.

- :mod:`~rglt.pools.weights`: interpolation of whole model states, magnitude re-pruning to a ticket's
  exact density, BatchNorm recalibration;
- :mod:`~rglt.pools.search`: Algorithm 2 (greedy interpolation over candidates ordered by adjacency),
  Algorithm 3 (average), and the SWA / EMA baselines over the same candidates;
- :mod:`~rglt.pools.ensemble`: the output ensemble and the prediction-disagreement matrix;
- :mod:`~rglt.pools.pool`: ``lottery_pool``, the search for one ticket of a ticket store in one call, for any network;
- :mod:`~rglt.pools.checks`: the input checks they share (states, masks, inputs, scores, probabilities).
"""
from rglt.pools.ensemble import disagreement, ensemble_accuracy, predictions
from rglt.pools.pool import PoolConfig, PoolResult, lottery_pool
from rglt.pools.search import (COEFFICIENT_GRIDS, COEFFICIENTS, TIE_BREAKS, Step, adjacency_order, greedy,
                               running_average)
from rglt.pools.weights import finisher, interpolate, recalibrate_bn, reprune, scorer

__all__ = ["COEFFICIENT_GRIDS", "COEFFICIENTS", "PoolConfig", "PoolResult", "Step", "TIE_BREAKS", "adjacency_order", "disagreement",
           "ensemble_accuracy", "finisher", "greedy", "interpolate", "lottery_pool", "predictions", "recalibrate_bn",
           "reprune", "running_average", "scorer"]
