"""Persistence: Piccolo tables on PostgreSQL, and the statements the pipeline runs."""
