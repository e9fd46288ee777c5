"""Stores: where the core's state is kept. Memory (the default) or SQLite (durable)."""
