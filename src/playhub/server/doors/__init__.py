"""Doors: other protocols served on the platform's listeners, each mapped onto the same services."""
