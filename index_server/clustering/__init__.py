"""FBC: the join rule that turns pair scores into clusters, the cluster ids it hands out, and
every row's decision (the decision log)."""
