"""The JSON API (DESIGN.md, 'Public contract')."""
