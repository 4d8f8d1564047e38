"""Seed 003: Yin, Liu et al., "Lottery Pools: Winning More by Interpolating Tickets without Increasing Training
or Inference Cost" (AAAI 2023)."""
from rglt.sources import Number

SEED = "003"

# "Weights Remaining%" of App. Tables 6-7 (IMP at 20% per iteration), as printed.
REMAINING = Number(SEED, "App. Tables 6-7", ("100", "80", "64", "51.20", "40.96", "32.77", "26.21", "20.97", "16.78",
                                             "13.42", "10.74", "8.59", "6.87", "5.50", "4.40", "3.52", "2.81", "2.25",
                                             "1.80"), "weights remaining (%), one column per IMP level")
# CIFAR-100, with rewinding, mean over 3 runs: (Lottery Pools (interpolation), original LTs), 100% ... 1.80%
TABLES_6_7 = Number(SEED, "App. Tables 6-7", {
    "resnet18": ((75.67, 75.54, 75.53, 75.74, 75.77, 75.82, 75.97, 75.69, 75.42, 75.58, 75.36, 75.19, 74.91, 74.74,
                  74.03, 73.73, 73.70, 73.11, 72.57),
                 (73.45, 73.82, 73.84, 74.12, 74.24, 74.32, 74.31, 74.34, 74.35, 74.40, 74.28, 74.14, 73.93, 73.80,
                  73.69, 73.35, 73.00, 72.80, 72.30)),
    "vgg16": ((73.32, 73.18, 72.82, 73.27, 73.13, 73.04, 73.32, 73.35, 73.23, 73.21, 73.14, 73.27, 73.16, 72.79, 72.62,
               72.38, 72.20, 71.41, 70.89),
              (71.63, 71.30, 71.58, 71.65, 71.53, 71.77, 71.79, 71.88, 71.91, 71.68, 72.03, 71.73, 71.83, 71.87, 71.40,
               71.57, 71.24, 71.14, 70.08)),
}, "CIFAR-100 test accuracy (%), (Lottery Pools (interpolation), original tickets) by weights remaining")
DENSE_GAIN = Number(SEED, "Sec. Experiments (Fig. 3a, density 100%)", {"resnet18": 2.22, "vgg16": 1.69},
                    "Lottery Pools over the original dense network, CIFAR-100 (points)")
OOD_GAIN = Number(SEED, "Sec. Experiments (Out-of-distribution robustness)", {"resnet18": 2.36, "vgg16": 2.27},
                  "largest gain over the tickets on CIFAR-100-C, sparse (points)")
SPARSEST_GAIN_VGG16 = Number(SEED, "Sec. Experiments", 0.81, "VGG-16 over its ticket at 1.8% of the weights (points)")


def paper_density():
    """The densities of :data:`REMAINING` as percentages (floats)."""
    return tuple(float(v) for v in REMAINING.value)
