"""Lifecycle events: one typed record, encoded as JSON for programs and HTML for people."""
