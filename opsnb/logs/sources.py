"""Where log bytes come from: a registry of sources, chosen by the scheme of a location.

``ops.logs.ingest(["app.log", "s3://bucket/app/*.gz"])`` reads ``app.log`` with the
built-in ``file`` source (files, globs, directories, gzip, ``-`` for stdin, resumed
from checkpoints) and hands ``s3://...`` to the source registered as ``s3``. Sources
live in :data:`SOURCES`, a :class:`~opsnb.registry.Registry` (entry-point group
``opsnb.log_sources``); the built-in is registered the way a third party registers
its own::

    from opsnb.logs.sources import SOURCES, LogSource

    class S3(LogSource):
        def open(self, location):
            for key in list_keys(location):
                yield key, open_object(key)      # a name and a binary stream
    SOURCES.register("s3", S3())

A source yields ``(name, binary stream)`` pairs; each stream is parsed like a file
(format detected unless given, gzip found by its magic bytes) and closed afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from opsnb.registry import Registry, instance_of

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")


class LogSource:
    """Base of a log source: opens a location into named binary streams."""

    def open(self, location: str) -> Iterator[tuple[str, BinaryIO]]:
        """The streams ``location`` (``<scheme>://...``, as given) stands for, each with its name.

        Raises:
            OSError or an OpsnbError: The location cannot be read; ingest records it as that
                source's error and goes on with the others.
        """
        raise NotImplementedError


class FileSource(LogSource):
    """Files, globs, directories and ``-`` (stdin), gzip or not.

    The ingestor reads these itself, with a checkpoint per file so a rerun resumes; this
    ``open`` serves callers that want the plain streams.
    """

    def open(self, location: str) -> Iterator[tuple[str, BinaryIO]]:
        from opsnb.logs.reader import expand, open_source

        found, missing = expand([location.removeprefix("file://")])
        if missing:
            raise FileNotFoundError(missing[0])
        for path in found:
            stream, _size = open_source(path)
            yield path, stream


SOURCES: Registry[LogSource] = Registry("log source", group="opsnb.log_sources", adapt=instance_of(LogSource))
SOURCES.register("file", FileSource(), origin="opsnb")


def scheme_of(location: str) -> str:
    """The source scheme of a location: ``s3`` for ``s3://b/k``, ``file`` for a path or ``-``."""
    m = _SCHEME.match(location)
    return m.group(1).lower() if m else "file"
