"""Postmortems: notebook templates that papermill fills from an incident's data (``ops.postmortems``)."""
