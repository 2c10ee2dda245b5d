"""On-call: schedules with wall-clock rotations, layers and overrides; escalation policies and paging."""
