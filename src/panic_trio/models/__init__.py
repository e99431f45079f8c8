"""The model catalog and the network (cycle) validation rules."""

from panic_trio.models.catalog import MediaType, Model, all_models, find_model, get_model
from panic_trio.models.validation import check_network, network_problem

__all__ = [
    "MediaType",
    "Model",
    "all_models",
    "check_network",
    "find_model",
    "get_model",
    "network_problem",
]
