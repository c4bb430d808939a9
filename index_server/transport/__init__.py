"""How the outside world talks to the index tier: the gRPC servicer, its config, the process."""
