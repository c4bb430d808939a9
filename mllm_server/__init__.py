"""FITRep concept tier: CHIE (concept-hierarchical information extraction) behind gRPC."""

__version__ = "0.1.0"
