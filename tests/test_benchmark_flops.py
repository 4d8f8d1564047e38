"""benchmarks/rg_coupling.py counts a training step's matrix multiplies from the configuration; the
oracle is the count by hand (issue 14: ~20 GFLOP per image for the MSDS configuration)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import rg_coupling  # noqa: E402

from rglt.flow import RGFlow  # noqa: E402


def test_the_step_flop_count_matches_the_hand_count():
    flow = RGFlow(3, 32, 4, layers_per_level=4, residual_blocks=4, hidden=512)
    patches = sum(layer.index.shape[0] for layer in flow.layers)
    assert patches == 170   # patch evaluations per image over the 10 RG layers
    shapes = rg_coupling.gemm_shapes(flow, batch=2)
    flop = sum(2 * m * k * n * c for (m, k, n), c in shapes.items())
    macs_per_mlp = 4 * (48 * 512 + 512 * 512 + 512 * 48)
    # per patch: 4 subnet layers x 2 couplings x 2 MLPs; forward + 2 backward GEMMs; 2 FLOP per MAC; 2 images
    assert flop == 2 * patches * 4 * 2 * 2 * macs_per_mlp * 3 * 2
    assert 19.9e9 < flop / 2 < 20.5e9
    layer = flow.layers[0]
    one = rg_coupling.gemm_shapes(layer, batch=1)
    assert sum(one.values()) == 4 * 2 * 2 * 4 * 3 * 3   # subnets x couplings x MLPs x blocks x Linears x GEMMs
