"""The fleet service (``ops.fleet``): inventory, selectors, fleet runs, facts, files.

Every inventory change and every mutating remote action needs the ``operator``
role and writes an audit record in the same transaction. A fleet run never stops
at the first failing host: an unreachable host, a refused key or a timeout is a
row with its error.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select

from opsnb.errors import (
    BatchError,
    CommandTimeout,
    Conflict,
    NotFound,
    OpsnbError,
    RemoteError,
    ValidationError,
)
from opsnb.servers.models import FIELDS, FactRow, Server, ServerRow
from opsnb.servers.selectors import _KEY, Selector
from opsnb.store.types import utcnow

if TYPE_CHECKING:
    from opsnb.servers.commands import Endpoint
    from opsnb.servers.inventory import InventoryFile
    from opsnb.servers.pool import Pool
    from opsnb.servers.ssh import Connection
    from opsnb.workbench import Workbench

RUN_COLUMNS = ["host", "exit_status", "stdout", "stderr", "duration", "error"]
LIST_COLUMNS = [*FIELDS, "created_at", "updated_at"]
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")
_ADDRESS = re.compile(r"^[A-Za-z0-9_.:\-\[\]%]{1,255}$")
_LABEL_KEY = re.compile(f"^{_KEY}$")


def _clean(fields: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """Validate server fields; every problem is reported at once."""
    from opsnb.servers.commands import check_credential, parse_jump

    problems: list[str] = []
    out: dict[str, Any] = {}
    unknown = set(fields) - set(FIELDS)
    if unknown:
        problems.append(f"unknown fields {sorted(unknown)}; fields are {', '.join(FIELDS)}")
    for key, value in fields.items():
        if key not in FIELDS:
            continue
        if key == "name":
            if not isinstance(value, str) or not _NAME.match(value):
                problems.append(f"name {value!r}: letters, digits, '_', '.', '-' (at most 200), not starting with '-' or '.'")
            else:
                out[key] = value
        elif key == "address":
            if not isinstance(value, str) or not _ADDRESS.match(value) or value.startswith("-"):
                problems.append(f"address {value!r} is not a host name or IP address")
            else:
                out[key] = value
        elif key == "port":
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() \
                    or not 0 < int(value) < 65536:
                problems.append(f"port {value!r} is not 1..65535")
            else:
                out[key] = int(value)
        elif key == "user":
            value = value or ""
            if not isinstance(value, str) or (value and not _USER.match(value)):
                problems.append(f"user {value!r} is not a login name")
            else:
                out[key] = value
        elif key == "labels":
            value = value or {}
            if not isinstance(value, dict):
                problems.append(f"labels must be a mapping, got {type(value).__name__}")
                continue
            if len(value) > 100:
                problems.append(f"{len(value)} labels; at most 100")
                continue
            labels = {}
            for k, v in value.items():
                if not isinstance(k, str) or not _LABEL_KEY.match(k) or len(k) > 100:
                    problems.append(f"label key {k!r}: letters, digits, '_', '.', '-', '/'")
                elif isinstance(v, dict | list | tuple | set) or v is None:
                    problems.append(f"label {k}: value must be a string, got {type(v).__name__}")
                elif len(str(v)) > 500 or any(ord(c) < 32 for c in str(v)):
                    problems.append(f"label {k}: value too long or has control characters")
                else:
                    labels[k] = str(v).lower() if isinstance(v, bool) else str(v)
            out[key] = labels
        elif key == "platform":
            value = value or ""
            if not isinstance(value, str) or len(value) > 100 or any(ord(c) < 32 for c in value):
                problems.append(f"platform {value!r} is not a short string")
            else:
                out[key] = value
        elif key == "credential":
            try:
                out[key] = check_credential(value)
            except ValidationError as exc:
                problems.append(str(exc))
        elif key == "proxy_jump":
            value = value or ""
            try:
                if value:
                    parse_jump(value)
                out[key] = value
            except ValidationError as exc:
                problems.append(str(exc))
    if not partial:
        for req in ("name", "address"):
            if req not in fields:
                problems.append(f"{req} is required")
    if problems:
        raise ValidationError("invalid server:", problems, field="server")
    return out


def failed_mask(df: pd.DataFrame) -> pd.Series:
    """Rows of a fleet-run DataFrame that failed: an error, or a non-zero (or missing) exit status."""
    return df["error"].notna() | df["exit_status"].ne(0).fillna(True).astype(bool)


def _show_progress(progress: bool | None) -> bool:
    if progress is not None:
        return progress
    ipy = sys.modules.get("IPython")
    shell = ipy.get_ipython() if ipy is not None else None
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":  # a notebook kernel
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class _Progress:
    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar: Any = None
        if enabled and total:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="host", leave=False, file=sys.stderr)
            except ImportError:
                self.bar = None

    def update(self, failed: int) -> None:
        if self.bar is not None:
            self.bar.set_postfix(failed=failed, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Fleet:
    """Servers and fleet operations of a workbench (``ops.fleet``)."""

    def __init__(self, wb: Workbench) -> None:
        self._wb = wb
        self._pool: Pool | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    @property
    def pool(self) -> Pool:
        """The SSH connection pool (created on first remote call)."""
        with self._lock:
            if self._pool is None or self._pool.closed:
                from opsnb.servers.pool import Pool
                from opsnb.servers.ssh import SshOptions

                opts = SshOptions.from_settings(self._wb.settings, on_new_host_key=self._trusted_new_key)
                self._pool = Pool(opts, per_host=int(self._wb.settings.ssh_per_host_connections))
                weakref.finalize(self, self._pool.close)
            return self._pool

    def close(self) -> None:
        """Close every pooled SSH connection."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def _trusted_new_key(self, ep: Endpoint, kind: str, fingerprint: str) -> None:
        with self._wb.db.session():
            self._wb.audit.record(action="fleet.hostkey.trust", target=ep.name,
                                  params={"address": ep.address, "port": ep.port, "key_type": kind,
                                          "fingerprint": fingerprint},
                                  reason="trust-on-first-use (ssh_trust_on_first_use)")

    def _rows(self) -> list[ServerRow]:
        with self._wb.db.session() as s:
            return list(s.scalars(select(ServerRow).order_by(ServerRow.name)))

    # ------------------------------------------------------------------ inventory

    def list(self, selector: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Servers matching ``selector`` (default all) as a DataFrame, one row per server."""
        servers = self.select(selector, allow_empty=True) if selector is not None else \
            [Server.of(r) for r in self._rows()]
        df = pd.DataFrame([s.as_dict() for s in servers], columns=LIST_COLUMNS)
        for c in ("created_at", "updated_at"):
            df[c] = pd.to_datetime(df[c], utc=True)
        df["port"] = df["port"].astype("int64")
        return df

    def get(self, name: str) -> Server:
        """The server called ``name``.

        Raises:
            NotFound: No such server.
        """
        with self._wb.db.session() as s:
            row = s.scalar(select(ServerRow).where(ServerRow.name == name))
            if row is None:
                raise NotFound(f"no server {name!r} in the inventory", kind="server", key=name)
            return Server.of(row)

    def select(self, selector: str | Sequence[str] | None, *, allow_empty: bool = False) -> builtins.list[Server]:
        """Servers matching a selector (``role=web,env=prod``, ``name~web-*``, a list of names ...).

        Raises:
            ValidationError: A malformed selector.
            NotFound: Nothing matches (unless ``allow_empty``), or a listed name is unknown.
        """
        sel = Selector.parse(selector)
        servers = [Server.of(r) for r in self._rows()]
        found = sel.filter(servers)
        if sel.names is not None:
            missing = [n for n in sel.names if n not in {s.name for s in found}]
            if missing:
                raise NotFound(f"no server {', '.join(map(repr, missing))} in the inventory",
                               kind="server", key=",".join(missing))
        if not found and not allow_empty:
            raise NotFound(f"no server matches the selector {str(selector)!r}", kind="server", key=str(selector))
        return found

    def create(self, *, name: str, address: str, port: int = 22, user: str = "",
               labels: dict[str, str] | None = None, platform: str = "", credential: str = "",
               proxy_jump: str = "", reason: str = "") -> Server:
        """Add a server to the inventory (role operator; audited).

        Args:
            credential: A reference (``agent``, ``key:PATH``, ``password-env:NAME``,
                ``password-file:PATH``), never a secret.
            proxy_jump: Jump hosts: inventory names or ``[user@]host[:port]``, comma separated.

        Raises:
            ValidationError: Bad fields (all problems listed).
            Conflict: A server of that name exists.
        """
        fields = _clean({"name": name, "address": address, "port": port, "user": user, "labels": labels or {},
                         "platform": platform, "credential": credential, "proxy_jump": proxy_jump})
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="fleet.create")
            if s.scalar(select(ServerRow.id).where(ServerRow.name == name)) is not None:
                raise Conflict(f"server {name!r} exists already; use update", kind="server", key=name)
            now = utcnow()
            row = ServerRow(**fields, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            self._wb.audit.record(action="fleet.create", target=name, params=fields, reason=reason)
            return Server.of(row)

    def update(self, name: str, *, reason: str = "", **fields: Any) -> Server:
        """Change fields of a server (role operator; audited). ``labels`` replaces all labels.

        Raises:
            NotFound, ValidationError, Conflict (renaming onto an existing name).
        """
        clean = _clean(fields, partial=True)
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="fleet.update")
            row = s.scalar(select(ServerRow).where(ServerRow.name == name))
            if row is None:
                raise NotFound(f"no server {name!r} in the inventory", kind="server", key=name)
            new_name = clean.get("name", name)
            if new_name != name and s.scalar(select(ServerRow.id).where(ServerRow.name == new_name)):
                raise Conflict(f"cannot rename {name!r}: server {new_name!r} exists", kind="server", key=new_name)
            changed = {k: v for k, v in clean.items() if getattr(row, k) != v}
            for k, v in changed.items():
                setattr(row, k, v)
            if changed:
                row.updated_at = utcnow()
                self._wb.audit.record(action="fleet.update", target=name, params=changed, reason=reason)
            return Server.of(row)

    def delete(self, name: str, *, reason: str = "") -> None:
        """Remove a server and its fact history (role operator; audited)."""
        with self._wb.db.session() as s:
            self._wb.access.require("operator", action="fleet.delete")
            row = s.scalar(select(ServerRow).where(ServerRow.name == name))
            if row is None:
                raise NotFound(f"no server {name!r} in the inventory", kind="server", key=name)
            s.query(FactRow).filter(FactRow.server_id == row.id).delete()
            s.delete(row)
            self._wb.audit.record(action="fleet.delete", target=name, params={"address": row.address},
                                  reason=reason)

    def import_file(self, kind: str, path: str | os.PathLike[str], *, strict: bool = True,
                    reason: str = "") -> pd.DataFrame:
        """Import servers from an Ansible inventory (INI/YAML) or an OpenSSH client config.

        Servers are matched by name: new ones created, existing ones updated (labels replaced).
        All in one transaction, audited as one ``fleet.import`` record.

        Args:
            kind: ``ansible`` or ``ssh-config``.
            strict: With problems in the file, import nothing and raise; else import the
                good servers and list the problems in the result.

        Returns:
            One row per server (name, action: created/updated/unchanged) plus rows for
            problems (action ``error``) and warnings (``warning``).

        Raises:
            ParseError: The file has problems (strict), listing every one with its line.
        """
        from opsnb.servers.inventory import parse_ansible, parse_ssh_config

        if kind not in ("ansible", "ssh-config"):
            raise ValidationError(f"unknown inventory kind {kind!r}; use ansible or ssh-config", field="kind")
        inv = parse_ansible(path) if kind == "ansible" else parse_ssh_config(path)
        return self._import(inv, strict=strict, reason=reason, source=f"{kind}:{path}")

    def import_ansible(self, path: str | os.PathLike[str], **kw: Any) -> pd.DataFrame:
        """Import an Ansible inventory (INI or YAML); see :meth:`import_file`."""
        return self.import_file("ansible", path, **kw)

    def import_ssh_config(self, path: str | os.PathLike[str] = "~/.ssh/config", **kw: Any) -> pd.DataFrame:
        """Import the Host entries of an OpenSSH client config; see :meth:`import_file`."""
        return self.import_file("ssh-config", path, **kw)

    def _import(self, inv: InventoryFile, *, strict: bool, reason: str, source: str,
                check_role: bool = True) -> pd.DataFrame:
        good: builtins.list[dict[str, Any]] = []
        for srv in inv.servers:
            try:
                good.append(_clean(srv))
            except ValidationError as exc:
                inv.problem(None, f"host {srv.get('name')}: {'; '.join(exc.problems) or exc}")
        if strict:
            inv.raise_if_problems()
        report: builtins.list[dict[str, Any]] = []
        by_name = {g["name"]: g for g in good}  # a later duplicate wins, as in Ansible
        with self._wb.db.session() as s:
            if check_role:
                self._wb.access.require("operator", action="fleet.import")
            existing = {r.name: r for r in s.scalars(select(ServerRow).where(ServerRow.name.in_(list(by_name))))} \
                if by_name else {}
            now = utcnow()
            for name, fields in by_name.items():
                row = existing.get(name)
                if row is None:
                    s.add(ServerRow(**fields, created_at=now, updated_at=now))
                    report.append({"name": name, "action": "created", "detail": ""})
                    continue
                changed = {k: v for k, v in fields.items() if getattr(row, k) != v}
                for k, v in changed.items():
                    setattr(row, k, v)
                if changed:
                    row.updated_at = now
                report.append({"name": name, "action": "updated" if changed else "unchanged",
                               "detail": ", ".join(sorted(changed))})
            counts = {a: sum(1 for r in report if r["action"] == a) for a in ("created", "updated", "unchanged")}
            self._wb.audit.record(action="fleet.import", target=source,
                                  params={**counts, "problems": len(inv.problems)}, reason=reason)
        report += [{"name": "", "action": "error", "detail": f"line {ln}: {m}" if ln else m} for ln, m in inv.problems]
        report += [{"name": "", "action": "warning", "detail": w} for w in inv.warnings]
        return pd.DataFrame(report, columns=["name", "action", "detail"])

    def export_yaml(self, selector: str | Sequence[str] | None = None,
                    path: str | os.PathLike[str] | None = None) -> str:
        """The inventory (or a selection) as an Ansible YAML inventory; written to ``path`` if given."""
        from opsnb.servers.inventory import to_ansible_yaml

        servers = self.select(selector, allow_empty=True) if selector is not None else \
            [Server.of(r) for r in self._rows()]
        text = to_ansible_yaml(servers)
        if path is not None:
            p = Path(path)
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, p)
        return text

    # ------------------------------------------------------------------ endpoints

    def _endpoint(self, server: Server, by_name: dict[str, Server] | None = None) -> Endpoint:
        from opsnb.servers.commands import Endpoint, parse_jump

        if by_name is None:
            by_name = {s.name: s for s in (Server.of(r) for r in self._rows())}

        def chain(srv: Server, seen: tuple[str, ...]) -> tuple[Endpoint, ...]:
            if not srv.proxy_jump:
                return ()
            hops: builtins.list[Endpoint] = []
            for user, host, port in parse_jump(srv.proxy_jump):
                inv = by_name.get(host)
                if inv is not None and user is None and port is None:
                    if inv.name in seen:
                        raise ValidationError(f"proxy_jump loop: {' -> '.join((*seen, inv.name))}",
                                              field="proxy_jump")
                    hops += chain(inv, (*seen, inv.name))
                    hops.append(Endpoint(inv.name, inv.address, inv.port, inv.user, inv.credential))
                else:
                    hops.append(Endpoint(host, host, port or 22, user or srv.user, srv.credential))
            return tuple(hops)

        return Endpoint(server.name, server.address, server.port, server.user, server.credential,
                        chain(server, (server.name,)))

    # ------------------------------------------------------------------ remote

    def connect(self, host: str, *, mutating: bool = True, reason: str = "") -> Connection:
        """A dedicated SSH connection to one server; close it when done (``with`` works).

        Commands run on it are not audited one by one, so opening it for a change
        needs the operator role and is audited (``fleet.connect``); pass
        ``mutating=False`` for read-only use.
        """
        server = self.get(host)
        if mutating:
            with self._wb.db.session():
                self._wb.access.require("operator", action="fleet.connect")
                self._wb.audit.record(action="fleet.connect", target=host,
                                      params={"address": server.address, "port": server.port}, reason=reason)
        return self.pool.connect(self._endpoint(server))

    def run(self, selector: str | Sequence[str] | None, command: Sequence[str] | None = None, *,
            shell: str | None = None, parallel: int = 16, timeout: float | None = 30.0, sudo: bool = False,
            mutating: bool = True, reason: str = "", progress: bool | None = None,
            check: bool = False, cancel: threading.Event | None = None,
            max_output: int | None = None) -> pd.DataFrame:
        """Run a command on every selected server, ``parallel`` at a time.

        Args:
            selector: Which servers (see :mod:`opsnb.servers.selectors`), or a list of names.
            command: Argument list, each argument quoted for the remote shell.
            shell: A shell command line instead (explicit; never glue input into it).
            parallel: Hosts worked on at once.
            timeout: Seconds per host for the command; past it the remote process is killed.
            sudo: Run through ``sudo -n``.
            mutating: A run that may change something needs the operator role and is audited
                (intent before, result after); pass False for read-only commands.
            reason: Why (stored in the audit trail).
            progress: Show a progress bar (default: in notebooks and terminals).
            check: Raise :class:`BatchError` (with the DataFrame as ``frame``) if any host failed.
            cancel: Set it to stop: running commands are killed, pending hosts are not started.
            max_output: Bytes of stdout and of stderr kept per host (default 16 MiB); the rest is
                read and dropped, and the host is listed in ``df.attrs["truncated"]``.

        Returns:
            DataFrame with columns host, exit_status (nullable int), stdout, stderr,
            duration (seconds, connect included), error (None when the command ran).
        """
        from opsnb.servers.commands import build_command

        cmd = build_command(command, shell=shell, sudo=sudo)  # bad input fails before anything runs
        if isinstance(parallel, bool) or not isinstance(parallel, int) or parallel < 1:
            raise ValidationError(f"parallel must be a positive integer, got {parallel!r}", field="parallel")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0):
            raise ValidationError(f"timeout must be a positive number of seconds, got {timeout!r}", field="timeout")
        servers = self.select(selector)
        target = str(Selector.parse(selector))
        if mutating:
            with self._wb.db.session():
                self._wb.access.require("operator", action="fleet.run")
                self._wb.audit.record(action="fleet.run", target=target, reason=reason, params={
                    "command": cmd, "sudo": sudo, "hosts": [x.name for x in servers], "timeout": timeout})
        from opsnb.servers.commands import DEFAULT_MAX_OUTPUT

        limit = DEFAULT_MAX_OUTPUT if max_output is None else max_output
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValidationError(f"max_output must be a number of bytes, got {max_output!r}", field="max_output")
        df = self._run_many(servers, lambda conn, cancel_ev: conn.run(
            command, shell=shell, timeout=timeout, sudo=sudo, cancel=cancel_ev, max_output=limit),
            parallel=parallel, progress=progress, cancel=cancel, desc=cmd[:40])
        df.attrs.update({"command": cmd, "selector": target})
        if mutating:
            failed = df[failed_mask(df)]
            with self._wb.db.session():
                self._wb.audit.record(action="fleet.run.result", target=target, reason=reason, params={
                    "command": cmd, "ok": int(len(df) - len(failed)), "failed": int(len(failed)),
                    "results": {r.host: (r.error.split(":")[0] if isinstance(r.error, str) else int(r.exit_status))
                                for r in df.itertuples()}})
        if check:
            bad = df[failed_mask(df)]
            if len(bad):
                raise BatchError(f"{len(bad)} of {len(df)} hosts failed {cmd!r}: {', '.join(bad['host'][:10])}",
                                 errors=bad.to_dict(orient="records"), frame=df)
        return df

    def _run_many(self, servers: builtins.list[Server], job: Callable[[Connection, threading.Event], Any], *,
                  parallel: int, progress: bool | None, cancel: threading.Event | None,
                  desc: str) -> pd.DataFrame:
        by_name = {s.name: s for s in (Server.of(r) for r in self._rows())}
        cancel = cancel or threading.Event()
        pool = self.pool
        rows: dict[str, dict[str, Any]] = {}
        truncated: builtins.list[str] = []

        def one(server: Server) -> dict[str, Any]:
            t0 = time.perf_counter()
            row: dict[str, Any] = {"host": server.name, "exit_status": None, "stdout": "", "stderr": "",
                                   "duration": 0.0, "error": None}
            if cancel.is_set():
                row["error"] = "Cancelled: not started"
                return row
            try:
                ep = self._endpoint(server, by_name)
                try:
                    with pool.connection(ep) as conn:
                        res = job(conn, cancel)
                except RemoteError as exc:
                    # A pooled connection the server dropped since (sshd restart, idle
                    # timeout): nothing ran on it, so once more on a fresh connection.
                    if not exc.not_started:
                        raise
                    with pool.connection(ep) as conn:
                        res = job(conn, cancel)
                row.update(exit_status=res.exit_status, stdout=res.stdout, stderr=res.stderr)
                if res.truncated:
                    truncated.append(server.name)
                if res.exit_status is None:
                    row["error"] = "RemoteError: the command ended without an exit status (killed by a signal?)"
            except CommandTimeout as exc:
                row.update(stdout=exc.stdout or "", stderr=exc.stderr or "",
                           error=f"CommandTimeout: {exc}")
            except OpsnbError as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # one broken host must not stop the fleet run
                row["error"] = f"{type(exc).__name__}: {exc}"
            row["duration"] = round(time.perf_counter() - t0, 6)
            return row

        bar = _Progress(len(servers), desc, _show_progress(progress))
        failed = 0
        ex = ThreadPoolExecutor(max_workers=min(parallel, len(servers)), thread_name_prefix="opsnb-fleet")
        try:
            futures = {ex.submit(one, s): s.name for s in servers}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    row = f.result()
                    rows[futures[f]] = row
                    failed += bool(row["error"] or row["exit_status"] != 0)
                    bar.update(failed)
        except KeyboardInterrupt:
            cancel.set()  # running commands are killed by their workers
            ex.shutdown(wait=True, cancel_futures=True)
            raise
        finally:
            ex.shutdown(wait=True)
            bar.close()
        ordered = [rows[s.name] for s in servers]
        df = pd.DataFrame(ordered, columns=RUN_COLUMNS)
        df["exit_status"] = df["exit_status"].astype("Int64")
        df["duration"] = df["duration"].astype("float64")
        df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
        df.attrs["truncated"] = sorted(truncated)
        return df

    def sftp_get(self, host: str, remote: str, local: str | os.PathLike[str]) -> Path:
        """Copy a file from a server (e.g. a log) to ``local``; returns the local path."""
        server = self.get(host)
        with self.pool.connection(self._endpoint(server)) as conn:
            return conn.get(remote, local)

    def sftp_put(self, host: str, local: str | os.PathLike[str], remote: str, *, reason: str = "") -> None:
        """Copy ``local`` to a server (role operator; audited)."""
        server = self.get(host)
        with self._wb.db.session():
            self._wb.access.require("operator", action="fleet.sftp_put")
            self._wb.audit.record(action="fleet.sftp_put", target=host,
                                  params={"local": str(local), "remote": remote}, reason=reason)
        with self.pool.connection(self._endpoint(server)) as conn:
            conn.put(local, remote)

    # ------------------------------------------------------------------ facts

    def facts(self, selector: str | Sequence[str] | None = None, refresh: bool = True, *,
              parallel: int = 16, timeout: float = 30.0, progress: bool | None = None) -> pd.DataFrame:
        """Facts per server (os, kernel, uptime, load, memory, disks, failed units).

        Args:
            refresh: Gather now over SSH (read-only) and store a snapshot; False returns
                each server's latest stored snapshot.

        Returns:
            One row per server (see :data:`opsnb.servers.facts.COLUMNS`); an unreachable
            server has its ``error`` set.
        """
        from opsnb.servers.facts import COLUMNS, SCRIPT, parse_facts

        servers = self.select(selector)
        if not refresh:
            return self._latest_facts(servers)
        df = self._run_many(servers, lambda conn, ev: conn.run(shell=SCRIPT, timeout=timeout, cancel=ev),
                            parallel=parallel, progress=progress, cancel=None, desc="facts")
        now = utcnow()
        ids = {r.name: r.id for r in self._rows()}
        facts_rows = []
        for r in df.itertuples():
            f = parse_facts(r.stdout) if r.error is None and r.exit_status == 0 else None
            err = r.error or ("" if f is not None else f"facts script exited {r.exit_status}: {r.stderr[-300:]}")
            facts_rows.append(FactRow(server_id=ids[r.host], host=r.host, taken_at=now, error=err or "",
                                      **({k: v for k, v in f.as_dict().items()} if f else {"disks": [],
                                                                                           "failed_units": []})))
        with self._wb.db.session() as s:
            s.add_all(facts_rows)
        return self._facts_frame(facts_rows, COLUMNS)

    @staticmethod
    def _facts_frame(rows: Sequence[FactRow], columns: builtins.list[str]) -> pd.DataFrame:
        from opsnb.servers.facts import Facts

        out = []
        for r in rows:
            f = Facts(r.os, r.kernel, r.uptime_s, r.load1, r.load5, r.load15, r.mem_total, r.mem_available,
                      list(r.disks or []), list(r.failed_units or []))
            out.append({"host": r.host, "taken_at": r.taken_at, **f.as_dict(), "mem_used_pct": f.mem_used_pct,
                        "disk_max_used_pct": f.disk_max_used_pct, "error": r.error or None})
        df = pd.DataFrame(out, columns=columns)
        df["taken_at"] = pd.to_datetime(df["taken_at"], utc=True)
        for c in ("uptime_s", "load1", "load5", "load15", "mem_total", "mem_available", "mem_used_pct",
                  "disk_max_used_pct"):
            df[c] = pd.to_numeric(df[c], errors="coerce").astype("float64")
        return df

    def _latest_facts(self, servers: builtins.list[Server]) -> pd.DataFrame:
        from opsnb.servers.facts import COLUMNS

        names = [s.name for s in servers]
        with self._wb.db.session() as s:
            latest = (select(func.max(FactRow.id)).where(FactRow.host.in_(names)).group_by(FactRow.server_id))
            rows = list(s.scalars(select(FactRow).where(FactRow.id.in_(latest))))
        order = {n: i for i, n in enumerate(names)}
        rows.sort(key=lambda r: order.get(r.host, 0))
        return self._facts_frame(rows, COLUMNS)

    def facts_history(self, selector: str | Sequence[str] | None = None, *, since: datetime | None = None,
                      limit: int = 100_000) -> pd.DataFrame:
        """Every stored fact snapshot (oldest first), for dashboards of fleet health over time."""
        from opsnb.servers.facts import COLUMNS

        names = [s.name for s in self.select(selector, allow_empty=True)]
        q = select(FactRow).where(FactRow.host.in_(names)).order_by(FactRow.taken_at, FactRow.id).limit(limit)
        if since is not None:
            q = q.where(FactRow.taken_at >= since)
        with self._wb.db.session() as s:
            rows = list(s.scalars(q))
        return self._facts_frame(rows, COLUMNS)

    def fact_changes(self, selector: str | Sequence[str] | None = None) -> pd.DataFrame:
        """What changed between each server's last two snapshots (kernel, os, failed units, disk use, reboots)."""
        hist = self.facts_history(selector)
        out = []
        for host, g in hist.groupby("host", sort=False):
            if len(g) < 2:
                continue
            prev, cur = g.iloc[-2], g.iloc[-1]
            for col in ("os", "kernel"):
                if prev[col] != cur[col]:
                    out.append({"host": host, "what": col, "before": prev[col], "after": cur[col]})
            pu, cu = set(prev["failed_units"]), set(cur["failed_units"])
            for u in sorted(cu - pu):
                out.append({"host": host, "what": "unit failed", "before": "", "after": u})
            for u in sorted(pu - cu):
                out.append({"host": host, "what": "unit recovered", "before": u, "after": ""})
            if pd.notna(prev["uptime_s"]) and pd.notna(cur["uptime_s"]) and cur["uptime_s"] < prev["uptime_s"]:
                out.append({"host": host, "what": "rebooted", "before": prev["uptime_s"], "after": cur["uptime_s"]})
            if bool(prev["error"]) != bool(cur["error"]):
                out.append({"host": host, "what": "reachability", "before": prev["error"] or "ok",
                            "after": cur["error"] or "ok"})
        return pd.DataFrame(out, columns=["host", "what", "before", "after"])

    def __repr__(self) -> str:
        with contextlib.suppress(Exception):
            return f"<Fleet {len(self._rows())} servers>"
        return "<Fleet>"
