"""Hypothesis strategies for the fuzz properties: wire formats, fragment plans, byte damage."""
