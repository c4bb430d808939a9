"""Persistence and compact in-memory rows: SQLite store, packed anchors, atomic file writes."""
