"""Wire formats: pure views and dataclasses over bytes. No state, clock, stats or logging."""
