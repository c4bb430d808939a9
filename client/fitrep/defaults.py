"""Defaults both sides of the wire agree on, written once: the servers' ports and how many
items go in one message.

Part of the contract: the SDK and the CLI dial these ports and send batches of this size; the
servers listen on them and accept such batches by default (``--port``, ``--max-batch``).
Deployment files (Dockerfiles, docker-compose, Kubernetes manifests) spell the ports out;
``deploy/README.md`` lists them.
"""

from __future__ import annotations

CONCEPT_PORT = 50051  # the concept server (mllm_server)
INDEX_PORT = 50052  # the index server (index_server)
CONCEPT_ADDRESS = f"127.0.0.1:{CONCEPT_PORT}"
INDEX_ADDRESS = f"127.0.0.1:{INDEX_PORT}"

# Items per message: what clients send per call and pipelines per batch, and the most one
# ExtractConcepts call may carry (the concept server's --max-batch).
BATCH_SIZE = 256
