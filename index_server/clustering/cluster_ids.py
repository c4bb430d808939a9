"""Cluster ids: where the external ids are made and resolved.

Ids are integers from a counter that only grows (persisted with the store), never reused;
``format_cluster_id`` gives the external string. A merge keeps the older id and records an
alias, so every id ever handed out stays valid (``resolve``). Family ids (same product up to
its variants) reuse the number of the cluster that founded the family, with an "f".
"""

from __future__ import annotations

from collections.abc import Mapping


def format_cluster_id(number: int) -> str:
    return f"c{number:08d}"


def format_family_id(number: int) -> str:
    """A family is named after the cluster that founded it: "f00000007" began with c00000007."""
    return f"f{number:08d}"


def parse_cluster_id(text: str) -> int:
    if len(text) < 2 or text[0] != "c" or not text[1:].isdigit():
        raise ValueError(f"not a cluster id: {text!r}")
    return int(text[1:])


def resolve(aliases: Mapping[int, int], cluster: int) -> int:
    """The cluster an id (possibly an alias of a merged cluster) stands for now."""
    while cluster in aliases:
        cluster = aliases[cluster]
    return cluster
