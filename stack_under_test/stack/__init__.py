"""The stack core: NICs, addresses, routes, neighbors, and the contracts between layers."""
