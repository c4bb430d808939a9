"""Assign items through both FITRep servers with the Python SDK.

The Python counterpart of examples/go and examples/java: reads the same items file and prints
the same lines, ``<item_id> <cluster_id>`` per item, then one ``explain ...`` line per pair.
``Client.assign`` does what the other two spell out: ExtractConcepts, then AssignItems.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fitrep import Item
from fitrep.client import Client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concept", default="127.0.0.1:50051")
    parser.add_argument("--index", default="127.0.0.1:50052")
    parser.add_argument("--items", type=Path, default=Path("examples/interop_items.json"))
    args = parser.parse_args()
    data = json.loads(args.items.read_text(encoding="utf-8"))
    items = [
        Item(id=it["id"], title=it.get("title", ""), text=it.get("text", ""))
        for it in data["items"]
    ]
    with Client(concept=args.concept, index=args.index, timeout=60) as client:
        for a in client.assign(items):
            print(a.item_id, a.cluster_id)
        for item_a, item_b in data["explain"]:
            e = client.explain(item_a, item_b)
            print(
                f"explain {e.item_a} {e.item_b} duplicate={str(e.duplicate).lower()}"
                f" score={e.score:.6f} clusters={e.cluster_a},{e.cluster_b}"
            )


if __name__ == "__main__":
    main()
