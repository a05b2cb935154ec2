"""Timers: the engine's durable deadlines, a pure heap under one actor."""
