"""``fitrep label``: active learning on a dedup run's uncertain pairs (selection, the label
file, the candidate pairs, the terminal session)."""
