"""Shared by the RG-Flow tests: small flows that are not the identity."""
import torch

from rglt.flow import ResidualMLP, Swish


def randomize(flow):
    """Draw the zero-initialised output scales a, b (and the Swish betas) in place; returns ``flow``."""
    with torch.no_grad():
        for m in flow.modules():
            if isinstance(m, ResidualMLP):
                m.scale.normal_(0.0, 0.7)
            if isinstance(m, Swish):
                m.beta.uniform_(0.5, 1.5)
    return flow
