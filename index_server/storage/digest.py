"""An item's content identity: what decides whether a re-sent item id changed.

The digest covers what the index keeps of an item as received — its concepts per level, its
anchors, its image features and its profile — in the forms the store holds, so a digest can be
recomputed from a stored row (rows stored before digests were). A level is identified by its
concept strings; only a level without strings (a caller that sends bare vectors) is
identified by its vector, as stored (unit length, float16). Vectors of text are left out on
purpose: they are a function of the strings and the encoder (the index refuses another
encoder), and their last bits depend on the batch the encoder saw them in (padding), so
hashing them would call an unchanged item that was extracted again "changed".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from fitrep.domain import EmbeddedItem

from index_server.integration import LevelLayout


def content_digest(
    levels: Mapping[str, list[str]],
    anchors: Mapping[str, list[str]],
    image_features: Mapping[str, np.ndarray],
    profile: Mapping[str, Any],
    vector: np.ndarray,
    layout: LevelLayout,
) -> str:
    """sha256 (hex) of the stored forms: ``levels`` by level name, ``anchors`` as JSON,
    ``vector`` the unweighted full vector as stored (float16, ``layout``)."""
    h = hashlib.sha256()
    texts = {name: list(words) for name, words in levels.items() if words}
    h.update(json.dumps([texts, dict(anchors), dict(profile)], sort_keys=True).encode())
    for name in sorted(image_features):
        arr = np.ascontiguousarray(image_features[name])
        h.update(f"|{name}:{arr.dtype.str}:{arr.shape}|".encode())
        h.update(arr.tobytes())
    stored = np.asarray(vector, np.float16)
    for level, where in layout.slices().items():
        if level.name not in texts and stored[where].any():
            h.update(f"|{level.name}|".encode())
            h.update(stored[where].tobytes())
    return h.hexdigest()


def item_digest(item: EmbeddedItem, full: np.ndarray, layout: LevelLayout) -> str:
    """The digest of an item as received; ``full`` is its unweighted full vector (float32)."""
    c = item.concepts
    return content_digest(
        {lv.name: list(words) for lv, words in c.levels.items()},
        c.anchors.to_json(),
        c.image_features,
        c.profile.to_json(),
        full,
        layout,
    )
