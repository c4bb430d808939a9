"""FITRep SDK: near-duplicate items with stable cluster ids.

``fitrep.pipeline.Pipeline`` runs everything in-process; ``fitrep.client.Client`` talks to the
two gRPC servers. Both speak the domain objects re-exported here.
"""

from fitrep.domain import (
    AlreadyExists,
    Assignment,
    Cluster,
    ConceptSet,
    EmbeddedItem,
    Explanation,
    FitrepError,
    InvalidInput,
    Item,
    ItemChange,
    Level,
    LevelEmbeddings,
    NoSpace,
    NotFound,
    Overloaded,
)

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "Assignment",
    "Cluster",
    "ConceptSet",
    "EmbeddedItem",
    "Explanation",
    "FitrepError",
    "InvalidInput",
    "Item",
    "ItemChange",
    "Level",
    "LevelEmbeddings",
    "NoSpace",
    "NotFound",
    "Overloaded",
    "__version__",
]
