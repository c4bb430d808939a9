"""FITRep index tier: attention-guided integration, SPDR, the join rule and the cluster store."""

__version__ = "0.1.0"
