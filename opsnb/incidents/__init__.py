"""Incidents: lifecycle, typed append-only timeline, roles, milestones, MTTx metrics."""
