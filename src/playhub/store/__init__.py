"""Persistence behind small interfaces. All SQL of the project lives in this package."""
