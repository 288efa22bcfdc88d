"""`make bench`: throughput, latency and cost of the engine, measured through its public API."""
