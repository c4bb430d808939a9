"""The join rule that turns pair scores into clusters (``join_rule``), the cluster ids it
hands out, and every row's decision (the decision log)."""
