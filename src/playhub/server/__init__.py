"""Sockets live here: listeners, connections, the router and thin handlers per area."""
