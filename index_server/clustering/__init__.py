"""FBC: the join rule that turns pair scores into clusters, and the cluster ids it hands out."""
