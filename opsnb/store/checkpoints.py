"""Exactly-once file ingest: per-source checkpoints committed with the segments they cover.

A file source is known by its device and inode (so a file renamed by logrotate keeps its
checkpoint and the new file made in its place starts from 0). Its checkpoint
``<lake>/.ingest/<source>.json`` records the identity (device, inode, size at commit, a
SHA-256 of the first bytes), the committed offset in the (decompressed) stream, the next line
number, the format and ``seq``, the number of batches committed.

A batch of one source is written as *pending* segments, ``<day>/<stem>.<source>-<seq>.pending``,
each fsynced, and the day folders fsynced. Then the checkpoint with the new ``seq`` and the list
of the batch's segments is written (temp file, fsync, rename, fsync of the folder): that rename is
the commit. Then the pending segments are renamed to ``<stem>.parquet``. A reader takes a pending
segment as live only when its source's checkpoint names its ``seq``, so after any kill a batch is
either wholly visible with the checkpoint advanced, or invisible. The next writer of the source
(under an ``flock`` the kernel drops when a process dies) finishes the renames of the committed
batch and deletes pending segments of batches that never committed.

A file truncated in place (logrotate's ``copytruncate``) leaves a *prior*: the identity and
committed offset of the content it held, ``<lake>/.ingest/priors/<key>/<source>-<seq>.json``
(``key``: a SHA-256 of its first :data:`PRIOR_KEY_BYTES` bytes, so a new file finds the priors it
may copy with one directory look-up). The first reader of a new file whose first bytes and size
match a prior claims it (an atomic rename) and resumes the file from the prior's offset: the copy
holds the truncated file's unread end, and its committed lines are not read again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from opsnb.errors import LakeError

HEAD_HASH_BYTES = 4096
PRIOR_KEY_BYTES = 64  # a copy is recognised by at least this many first bytes (fewer: "short")
PENDING = ".pending"
TMP_MAX_AGE_S = 600  # a temp file this old is a dead writer's, whatever its name says


@dataclass
class Checkpoint:
    """What is committed of one file source."""

    source: str
    path: str
    dev: int
    ino: int
    size: int = 0
    head_len: int = 0
    head_sha256: str = ""
    offset: int = 0
    line: int = 1
    format: str | None = None
    seq: int = 0
    head_key: str = ""  # prior_key of the first bytes (where a prior of this content is filed)
    segments: tuple[str, ...] = ()  # the last batch's segments, relative to the lake root
    cursor: str | None = None  # sources resumed by a cursor (a remote journal): the last committed entry's
    cursor_skip: int = 0  # entries after ``cursor`` already committed (damaged ones, without a cursor)
    committed_at: float = 0.0  # wall-clock time of the commit
    first_at: float = 0.0  # of the first commit of the source (when reading it began)
    adopted: str | None = None  # the prior this file continues (a copy made by copytruncate)
    gone: bool = False  # the file disappeared; what it held past ``offset`` was reported lost


@dataclass
class Prior:
    """What was committed of a file's content before the file was truncated in place."""

    source: str
    path: str
    head_len: int
    head_sha256: str
    offset: int
    line: int
    size: int
    seq: int
    format: str | None = None
    at: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.source}-{self.seq}"


def source_id(dev: int, ino: int) -> str:
    return f"{dev:x}i{ino:x}"


def head_hash(path: str, n: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(n)).hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Temp file named with the pid, fsync, rename over ``path``, fsync of the folder."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def pid_alive(pid: int) -> bool:
    """Whether the writer ``pid`` of a temp file still runs (a zombie does not)."""
    from opsnb.store.processes import alive

    return alive(pid)


class Checkpoints:
    """The checkpoints of a lake (``<root>/.ingest``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / ".ingest"
        self.sweep()

    def sweep(self) -> int:
        """Delete the temp files of checkpoint and prior writes whose writer died (a kill mid-write).

        Returns:
            Files deleted.
        """
        removed = 0
        for d in [self.dir, *(self.dir / "priors" / k for k in _listdir(self.dir / "priors"))]:
            for n in _listdir(d):
                pid = n.rsplit(".", 2)[-2] if n.startswith(".") and n.endswith(".tmp") else ""
                if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                    (d / n).unlink(missing_ok=True)
                    removed += 1
        return removed

    def path(self, source: str) -> Path:
        return self.dir / f"{source}.json"

    def get(self, source: str) -> Checkpoint | None:
        """The committed checkpoint of ``source`` (None when it was never committed)."""
        try:
            raw = json.loads(self.path(source).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LakeError(f"unreadable ingest checkpoint {self.path(source)}: {exc}", table="logs",
                            path=str(self.path(source))) from None
        raw["segments"] = tuple(raw.get("segments") or ())
        known = Checkpoint.__dataclass_fields__
        return Checkpoint(**{k: v for k, v in raw.items() if k in known})

    def all(self) -> list[Checkpoint]:
        """Every committed checkpoint (unreadable ones skipped: :meth:`get` names them)."""
        try:
            names = sorted(os.listdir(self.dir))
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            if n.endswith(".json") and not n.startswith("."):
                with contextlib.suppress(LakeError, TypeError):
                    cp = self.get(n[: -len(".json")])
                    if cp is not None:
                        out.append(cp)
        return out

    def seq(self, source: str) -> int | None:
        """The committed ``seq`` of ``source`` (for readers deciding whether a pending segment is live)."""
        try:
            return int(json.loads(self.path(source).read_text(encoding="utf-8"))["seq"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @contextlib.contextmanager
    def lock(self, source: str) -> Iterator[None]:
        """Hold the source: one writer at a time (the kernel releases it when the process dies)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / f"{source}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def try_lock(self, source: str) -> Iterator[bool]:
        """Like :meth:`lock` without waiting: yields whether the source was free."""
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / f"{source}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    def commit(self, cp: Checkpoint, pending: list[Path]) -> None:
        """Make a batch visible: the checkpoint naming it is the commit, then the renames."""
        self.dir.mkdir(parents=True, exist_ok=True)
        cp.segments = tuple(str(_final(p).relative_to(self.root)) for p in pending)
        cp.committed_at = time.time()
        cp.first_at = cp.first_at or cp.committed_at
        write_json_atomic(self.path(cp.source), asdict(cp))
        self._finish(pending)

    def _finish(self, pending: list[Path]) -> None:
        dirs = set()
        for p in pending:
            with contextlib.suppress(FileNotFoundError):  # retention may have removed the day
                os.replace(p, _final(p))
                dirs.add(p.parent)
        for d in dirs:
            with contextlib.suppress(FileNotFoundError):
                fsync_dir(d)

    def recover(self, source: str, tables: list[str]) -> int:
        """Finish a committed batch a dead writer left pending; delete uncommitted ones (call under the lock).

        Returns:
            Pending segments deleted.
        """
        cp = self.get(source)
        if cp is not None:
            for rel in cp.segments:
                final = self.root / rel
                pend = final.with_name(f"{final.stem}.{source}-{cp.seq}{PENDING}")
                if pend.exists():
                    self._finish([pend])
        committed = cp.seq if cp is not None else 0
        removed = 0
        tag = f".{source}-"
        for table in tables:
            base = self.root / table
            if not base.is_dir():
                continue
            for day in base.iterdir():
                try:
                    names = os.listdir(day)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for n in names:
                    if n.endswith(PENDING) and tag in n:
                        seq = parse_pending(n)[2]
                        if seq != committed:
                            (day / n).unlink(missing_ok=True)
                            removed += 1
        return removed


    # ------------------------------------------------------------- priors
    def add_prior(self, prior: Prior, key: str) -> None:
        """Record what was committed of a truncated file (call under its source's lock, before resetting it)."""
        d = self.dir / "priors" / key
        if any(n.startswith(prior.name + ".") for n in _listdir(d)):
            return  # recorded before a kill, maybe claimed already
        d.mkdir(parents=True, exist_ok=True)
        write_json_atomic(d / f"{prior.name}.json", asdict(prior))

    def priors_for(self, first: bytes, claimant: str) -> list[tuple[Path, Prior]]:
        """Priors a new file starting with ``first`` may continue: unclaimed, or claimed by ``claimant``."""
        out = []
        for key in dict.fromkeys((prior_key(first), "short")):
            d = self.dir / "priors" / key
            for n in sorted(_listdir(d)):
                if (n.endswith(".json") and not n.startswith(".")) or n.endswith(f".claimed-{claimant}"):
                    p = _read_prior(d / n)
                    if p is not None:
                        out.append((d / n, p))
        return out

    def open_priors(self) -> list[Prior]:
        """Every prior nobody claimed yet (a tail looks for their copies)."""
        out = []
        for key in _listdir(self.dir / "priors"):
            for n in _listdir(self.dir / "priors" / key):
                if n.endswith(".json") and not n.startswith("."):
                    p = _read_prior(self.dir / "priors" / key / n)
                    if p is not None:
                        out.append(p)
        return out

    def claim(self, path: Path, claimant: str) -> Path | None:
        """Take a prior for ``claimant`` (an atomic rename); None when another file took it first."""
        if path.name.endswith(f".claimed-{claimant}"):
            return path
        to = path.with_name(path.name[: -len(".json")] + f".claimed-{claimant}")
        try:
            os.rename(path, to)  # of two claimants, one renames it; the other finds it gone
        except FileNotFoundError:
            return None
        return to

    def release(self, claimed: Path) -> None:
        """Forget a claimed prior once the claimant's checkpoint that continues it is committed."""
        claimed.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            claimed.parent.rmdir()  # empty now


def prior_key(first: bytes) -> str:
    """The folder of priors whose files start with ``first`` (their first :data:`PRIOR_KEY_BYTES` bytes)."""
    if len(first) < PRIOR_KEY_BYTES:
        return "short"
    return hashlib.sha256(first[:PRIOR_KEY_BYTES]).hexdigest()[:32]


def _listdir(d: Path) -> list[str]:
    try:
        return os.listdir(d)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _read_prior(path: Path) -> Prior | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Prior(**{k: v for k, v in raw.items() if k in Prior.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def pending_name(stem: str, source: str, seq: int) -> str:
    return f"{stem}.{source}-{seq}{PENDING}"


def parse_pending(name: str) -> tuple[str, str, int]:
    """``(stem, source, seq)`` of a pending segment's file name."""
    stem, tag = name[: -len(PENDING)].split(".", 1)
    source, _, seq = tag.rpartition("-")
    try:
        return stem, source, int(seq)
    except ValueError:
        return stem, source, -1


def _stem(p: Path) -> str:
    return p.name.split(".", 1)[0]


def _final(p: Path) -> Path:
    return p.with_name(f"{_stem(p)}.parquet")


def sweep_tmp(tmp_dir: Path, *, now: float | None = None) -> int:
    """Delete temp files of dead writers: their pid (in the name) is gone, or they are old.

    Returns:
        Files deleted.
    """
    try:
        names = os.listdir(tmp_dir)
    except FileNotFoundError:
        return 0
    now = time.time() if now is None else now
    removed = 0
    me = os.getpid()
    for n in names:
        p = tmp_dir / n
        head = n.split("-", 1)[0]
        pid = int(head[1:]) if head.startswith("p") and head[1:].isdigit() else None
        try:
            age = now - p.stat().st_mtime
        except FileNotFoundError:
            continue
        if pid == me:
            continue
        if (pid is not None and not pid_alive(pid)) or age > TMP_MAX_AGE_S:
            p.unlink(missing_ok=True)
            removed += 1
    return removed
