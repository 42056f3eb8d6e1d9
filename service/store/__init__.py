"""Persistence: SQLAlchemy models, sessions, the content-addressed file store, and repository functions."""
