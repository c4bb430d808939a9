"""``python -m index_server --host 127.0.0.1 --port 50052 --data-dir DIR``."""

from index_server.transport.server import main

main()
