"""The queue worker: its job loop and the order execution job."""
