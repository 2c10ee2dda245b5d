"""The audit trail: who did what, append-only and hash-chained."""
