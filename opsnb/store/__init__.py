"""Storage: the state database (``db``) and the event lake (``lake``)."""
