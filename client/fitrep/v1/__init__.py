"""Generated protobuf/gRPC stubs for package fitrep.v1 (``make protos``; checked by a test)."""
