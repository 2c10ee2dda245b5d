"""Logs: ingest (many formats, vectorised), queries and metrics, incident windows, patterns, errors.

Entry point: ``ops.logs`` (:class:`opsnb.logs.service.Logs`). Nothing heavy is imported here.
"""
