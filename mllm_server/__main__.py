"""``python -m mllm_server --host 127.0.0.1 --port 50051 --backend rules``."""

from mllm_server.server import main

main()
