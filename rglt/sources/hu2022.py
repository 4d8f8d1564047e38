"""Seed 001: a reproduction report of Hu et al., "RG-Flow: a hierarchical and explainable flow model based on
renormalization group and sparse prior" (MLST 2022). The numbers are the report's own runs."""
from rglt.sources import Number

SEED = "001"

TABLE_1 = Number(SEED, "Table 1", {
    "celeba": {"laplace": (3.7238, 83.815), "gaussian": (3.7432, 80.418)},
    "msds1": {"laplace": (1.8562, 103.164), "gaussian": (1.8505, 103.637)},
    "msds2": {"laplace": (1.9375, 105.798), "gaussian": (1.9457, 106.914)},
}, "(bits per dimension, FID with Inception) per data set and prior")
# "The CelebA model was trained for 100 epochs and the synthetic models for 60", with m = 4, n_res = 4,
# 512 hidden units and n_layer = [8, 6, 4, 2] (CelebA) or 4 (synthetic).
EPOCHS = Number(SEED, "Sec. 2.5", {"celeba": 100, "msds1": 60, "msds2": 60}, "training epochs per data set")
SYNTHETIC_IMAGES = Number(SEED, "Sec. 2.5", 90000, "images in each synthetic (MSDS) training set")
FIGURE_TEMPERATURE = Number(SEED, "Fig. 6", 0.75, "the prior's temperature of the samples shown")
