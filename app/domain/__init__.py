"""The pure core: tokens, AMM math, fees, routing and the order state machine.

Nothing here imports a web framework, the queue, the ORM or Redis (ruff enforces it),
so all of it is tested without I/O.
"""
