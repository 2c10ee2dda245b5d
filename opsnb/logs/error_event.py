"""What an error event is: the one definition every query, metric and face uses.

A log event is an **error** when

* its ``SeverityNumber`` is 17 or more, the OpenTelemetry ranges ERROR (17-20) and
  FATAL (21-24): the emitter itself says something failed; **or**
* its ``HttpStatus`` is 500 or more (5xx): the server failed the request, whatever
  severity the access log line was written with.

A 4xx answer is not an error of the service (the client asked for something wrong;
counting it would page on a scanner hammering ``/wp-login.php``), and WARN (13-16) is
not an error either. A missing value never makes an event an error: an app log line
has no status, an access log line may carry no severity.

Example:
    >>> import pandas as pd
    >>> is_error(pd.DataFrame({"SeverityNumber": [9, 17, 9, None], "HttpStatus": [200, None, 503, 404]})).tolist()
    [False, True, True, False]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

ERROR_SEVERITY = 17
"""Lowest OpenTelemetry SeverityNumber of an error (ERROR1; FATAL starts at 21)."""

ERROR_STATUS = 500
"""Lowest HTTP status of a failed request (5xx: the server's fault)."""

ERROR_SQL = f'("SeverityNumber" >= {ERROR_SEVERITY} OR "HttpStatus" >= {ERROR_STATUS})'
"""The definition as a DuckDB predicate over the lake's ``logs`` columns (NULLs count as not an error)."""


def is_error(frame: pd.DataFrame) -> pd.Series:
    """Which rows of a ``logs`` DataFrame are error events (a boolean Series on its index).

    Args:
        frame: Rows with ``SeverityNumber`` and/or ``HttpStatus`` columns (a missing
            column counts as all missing).

    Returns:
        True where ``SeverityNumber >= 17`` or ``HttpStatus >= 500``.
    """
    import pandas as pd

    out = pd.Series(False, index=frame.index)
    for col, low in (("SeverityNumber", ERROR_SEVERITY), ("HttpStatus", ERROR_STATUS)):
        if col in frame:
            out |= pd.to_numeric(frame[col], errors="coerce").ge(low).fillna(False).astype(bool)
    return out
