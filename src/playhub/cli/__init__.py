"""The ``playhub`` command."""
