"""Logs: ingest (many formats, vectorised), queries and metrics, incident windows, patterns, errors.

Entry point: ``ops.logs`` (:class:`opsnb.logs.service.Logs`). Nothing heavy is imported here.
What an error event is (SeverityNumber >= 17 or HttpStatus >= 500) is defined once, in
:mod:`opsnb.logs.error_event`, and re-exported here as ``ERROR_SQL`` and ``is_error``.
"""

from opsnb.logs.error_event import ERROR_SEVERITY, ERROR_SQL, ERROR_STATUS, is_error

__all__ = ["ERROR_SEVERITY", "ERROR_SQL", "ERROR_STATUS", "is_error"]
