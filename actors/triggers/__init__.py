"""Triggers: events and their filters, event waits, crons and one-time schedules."""
