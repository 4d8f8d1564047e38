"""Pruning: magnitude masks (global, layerwise, structured), IMP with rewinding, the ticket store."""
from .imp import IMPConfig, imp, round_fraction
from .masks import BACKENDS, SCOPES, magnitude_masks, structured_masks
from .tickets import Ticket, TicketStore

__all__ = ["BACKENDS", "IMPConfig", "SCOPES", "Ticket", "TicketStore", "imp", "magnitude_masks",
           "round_fraction", "structured_masks"]
