"""The JSON API: its contract is in README.md ("API") and at /schema."""
