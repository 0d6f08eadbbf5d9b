"""Transport protocols: UDP."""
