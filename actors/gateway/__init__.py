"""The engine's edge: validate each request from clients and workers and hand it off.

Read :mod:`ratchet.actors._engine` first. The gateway is the one actor remote processes
call; it checks requests against :mod:`ratchet._contract.protocol` and passes them down
to runs, triggers and durable tasks.
"""
