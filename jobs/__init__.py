"""The queue worker: SAQ settings and the order execution job."""
