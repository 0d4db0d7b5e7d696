"""Envelope, status codes, error types and typed payload schemas shared by server, client and SDK."""
