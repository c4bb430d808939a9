"""Blocking: which earlier rows an item is compared with (SPDR reduction, vector indexes,
the canonical earlier-rows rule, model-code blocking)."""
