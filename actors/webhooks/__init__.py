"""Webhooks: events from outside, verified per webhook and turned into ordinary events."""
