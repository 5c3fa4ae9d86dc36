"""Helpers shared by the test folders (databases, clocks, sinks)."""
