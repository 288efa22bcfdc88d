"""The web layer: thin Litestar handlers over the services, JSON and HTML alike."""
