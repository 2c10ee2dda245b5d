"""The demo world: a small production system, generated deterministically from a seed."""
