"""Traces: reconstruct a trace from the lake's spans, its waterfall, critical path and
self time, the service graph, comparing two traces, and the logs of a trace."""
