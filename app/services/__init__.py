"""Use cases shared by the web layer and the worker: place, quote, execute, reconcile."""
