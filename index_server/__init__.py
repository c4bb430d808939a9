"""FITRep index tier: attention-guided integration, SPDR, FBC and the cluster store."""

__version__ = "0.1.0"
