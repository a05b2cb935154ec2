"""Scheduling: where a queued task waits and which worker takes it.

The :class:`~ratchet.actors.scheduling._scheduler.QueueScheduler` actor wraps a pure
machine (:mod:`._machine`); admission (:mod:`._admission`) holds tasks back by
concurrency key (:mod:`._concurrency`), rate limit (:mod:`._rate_limits`) and worker
affinity (:mod:`._affinity`); ready tasks wait in per-queue queues (:mod:`._queues`) until
a worker slot is free, and the dispatcher (:mod:`._dispatcher`) delivers them to workers.
"""
