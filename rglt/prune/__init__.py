"""Pruning: magnitude masks (global, layerwise, structured), IMP with rewinding, the ticket store;
IMP runs as data (TicketRun), the ticket cache shared by every chapter, and the parallel runner."""
from .cache import cache_root, is_complete, run_dir, store_of, train_tickets, use_cache
from .imp import IMPConfig, imp, imp_group, round_fraction
from .masks import BACKENDS, SCOPES, magnitude_masks, structured_masks
from .runner import map_jobs, run_all, train_run
from .runs import PRUNABLE, ModelSpec, TicketRun, read_runs
from .ticket_store import CorruptTicketError, Ticket, TicketStore

__all__ = ["BACKENDS", "CorruptTicketError", "IMPConfig", "ModelSpec", "PRUNABLE", "SCOPES", "Ticket", "TicketRun",
           "TicketStore", "cache_root", "imp", "imp_group", "is_complete", "magnitude_masks", "map_jobs", "round_fraction",
           "read_runs", "run_all", "run_dir", "store_of", "structured_masks", "train_run", "train_tickets", "use_cache"]
