"""`make chaos`: faults injected into a real engine under load, and what they cost.

Each scenario starts its own engine (embedded PostgreSQL and Redis in a temporary
directory, web and worker processes, all real), drives orders through the public API at
a steady rate, injects its faults at seeded moments (SIGKILL of workers or the web
process, Redis or PostgreSQL restarted, PostgreSQL frozen with SIGSTOP), probes every
endpoint while a server is down, waits for every order to settle, then checks what must
hold from the database and the venues' ledger: nothing lost, nothing doubled, no seq
gaps, one fill per confirmed order, no `201` without a stored row, and recovery.

    python -m chaos --seed 7 --orders 1000 --scenario all
"""
