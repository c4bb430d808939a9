"""FITRep SDK: near-duplicate items with stable cluster ids.

``fitrep.pipeline.Pipeline`` runs everything in-process; ``fitrep.client.Client`` talks to the
two gRPC servers. Both speak the domain objects re-exported here.
"""

from fitrep.domain import (
    Assignment,
    Cluster,
    ConceptSet,
    EmbeddedItem,
    Explanation,
    FitrepError,
    InvalidInput,
    Item,
    Level,
    LevelEmbeddings,
    NotFound,
    Overloaded,
)

__version__ = "0.1.0"

__all__ = [
    "Assignment",
    "Cluster",
    "ConceptSet",
    "EmbeddedItem",
    "Explanation",
    "FitrepError",
    "InvalidInput",
    "Item",
    "Level",
    "LevelEmbeddings",
    "NotFound",
    "Overloaded",
    "__version__",
]
