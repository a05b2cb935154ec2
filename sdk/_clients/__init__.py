"""The feature clients of the facade: ``ratchet.runs``, ``.event``, ``.cron``, ``.rate_limits``..."""
