"""`make chaos`: faults injected into a real engine under load, and what they cost.

Each scenario starts its own engine (embedded PostgreSQL and Redis in a temporary
directory, web and worker processes, all real), drives orders through the public API at
a steady rate, injects its faults at seeded moments (SIGKILL of workers or the web
process, Redis or PostgreSQL restarted, PostgreSQL frozen with SIGSTOP), probes every
endpoint while a server is down, waits for every order to settle, then checks what must
hold from the database and the venues' ledger: nothing lost, nothing doubled, no seq
gaps, one fill per confirmed order, no `201` without a stored row, nothing stored for a
`503`, a `504` only while PostgreSQL is going and always naming its order (stored or
not, both counted), every stored event on the firehose once, and recovery.

Each run makes a fresh admin key (the engine's ADMIN_API_KEY); every request and socket
handshake of the harness carries it as `Authorization: Bearer`.

    python -m chaos --seed 7 --orders 1000 --scenario all
"""
