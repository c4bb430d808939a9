"""Persistence and compact in-memory rows: SQLite store, packed anchors, decision log,
atomic file writes."""
