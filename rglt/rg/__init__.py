"""The renormalization group: Ising Monte Carlo, block spins, scaling-law fits, autocorrelation
times of Monte Carlo series (:mod:`rglt.rg.autocorrelation`), and the IMP flow
(:mod:`rglt.rg.imp_flow`: M_i, P_i, lambda_i, sigma_i, c(n), the pruning scaling law)."""
from rglt.rg import imp_flow
from rglt.rg.autocorrelation import (autocorrelation, integrated_autocorrelation_time, mean_and_error,
                                     ratio_and_error)
from rglt.rg.blocking import block_spin
from rglt.rg.ising import (ALGORITHMS, T_CRITICAL, energy, magnetization, nn_correlation,
                           onsager_magnetization, sample, trajectory)
from rglt.rg.scaling import fit_power_law

__all__ = ["ALGORITHMS", "T_CRITICAL", "autocorrelation", "block_spin", "energy", "fit_power_law", "imp_flow",
           "integrated_autocorrelation_time", "magnetization", "mean_and_error", "nn_correlation",
           "onsager_magnetization", "ratio_and_error", "sample", "trajectory"]
