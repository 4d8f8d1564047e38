"""Run by tests/test_imp.py under `torchrun --nproc_per_node 2`: one IMP round, rank 0 writes the store."""
import sys
from pathlib import Path

import torch

from rglt.train import TrainConfig, init_distributed

sys.path.insert(0, str(Path(__file__).parent))
from test_imp import _data, _model, _weights  # noqa: E402

from rglt.prune import IMPConfig, imp  # noqa: E402

root = Path(sys.argv[1])
rank, world = init_distributed()
assert world == 2, world
torch.set_num_threads(1)
store = imp(_model, _weights, _data(), TrainConfig(epochs=2, batch_size=64, lr=0.05), IMPConfig(rounds=1, rewind_step=5),
            root / "torchrun")
torch.save(store.load(1).masks, root / f"torchrun_masks{rank}.pt")
torch.distributed.destroy_process_group()
