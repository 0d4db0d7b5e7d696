"""Domain services: no sockets, no wire messages. Handlers call them; they raise PlayHubError subclasses."""
