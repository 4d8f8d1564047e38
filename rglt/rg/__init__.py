"""The renormalization group: Ising Monte Carlo, block spins, scaling-law fits."""
from rglt.rg.blocking import block_spin
from rglt.rg.ising import (ALGORITHMS, T_CRITICAL, energy, magnetization, nn_correlation,
                           onsager_magnetization, sample, trajectory)
from rglt.rg.scaling import fit_power_law

__all__ = ["ALGORITHMS", "T_CRITICAL", "block_spin", "energy", "fit_power_law", "magnetization",
           "nn_correlation", "onsager_magnetization", "sample", "trajectory"]
