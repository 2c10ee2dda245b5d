"""Alerts: ingestion (Alertmanager v4, Events v2, SLO burn rates), dedup, grouping, silences."""
