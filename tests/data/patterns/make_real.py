"""Label logs captured from real programs with the programs' own format strings.

``real/capture/`` holds how the raw logs were made (configurations and bounded load scripts
against loopback-only servers: nginx 1.22.1, OpenSSH 9.2 sshd, PostgreSQL 15.20, and this
machine's own dpkg log). This script reads the raw logs and writes, per data set,
``<name>.log`` (the lines some format string matched, in order) and ``<name>_truth.csv``
(``LineId,EventId,EventTemplate``).

Truth comes from format strings only: each entry below is one message format as the
program's source writes it (written down by hand, not extracted from a checkout; every captured
line matching one is the check) (OpenSSH ``auth.c``/``sshd.c``/``session.c``, PostgreSQL's ``ereport``
calls and ``vacuumlazy.c``, nginx ``ngx_log_error`` calls and ``ngx_http_log_error``'s
context suffix, dpkg ``log_message``/``log_action``), with each conversion written ``%s``
(text) or ``%d`` (a number, any form). A line's event is the format it fully matches (the
one with the most literal text when several do); its template is that format with every
conversion replaced by ``<*>``. A ``%s`` that the code fills with one word from a fixed table
(sshd's auth method, dpkg's action and status names, nginx's signal names, PostgreSQL's
checkpoint reasons) is written out, as Loghub's templates do. Lines no format matches (output
of maintainer scripts and the like) are left out and counted. Run: ``python make_real.py``.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "real" / "raw"

# nginx's ngx_http_log_error() appends ", client: %V, server: %V, request: \"%V\"" and, when
# known, upstream, host and referrer: keys that come and go. Part of the line, not the event.
_NGX_CTX = re.compile(r'(?P<ctx>, client: \S+, server: \S*(?:, request: "[^"]*")?(?:, upstream: "[^"]*")?'
                      r'(?:, host: "[^"]*")?(?:, referrer: "[^"]*")?)$')

FORMATS: dict[str, dict] = {
    "nginx_real": {
        "raw": "nginx_error.log",
        "header_regex": r"^\S+ \S+ \[\w+\] \d+#\d+: (?:\*\d+ )?(?P<body>.*)$",
        "formats": [
            'open() "%s" failed (%d: No such file or directory)',
            'client %s closed keepalive connection',
            'connect() failed (%d: Connection refused) while connecting to upstream',
            'access forbidden by rule',
            'directory index of "%s" is forbidden',
            '"%s" is not found (%d: No such file or directory)',
            'client intended to send too large body: %d bytes',
            'exit', 'exiting', 'gracefully shutting down', 'reconfiguring', 'start worker processes',
            'signal process started',
            'worker process %d exited with code %d',
            'start worker process %d',
            'client prematurely closed connection while reading client request headers',
            'signal %d (SIGCHLD) received from %d',
            'signal %d (SIGHUP) received from %d, reconfiguring',
            'signal %d (SIGQUIT) received from %d, shutting down',
            'signal %d (SIGIO) received',
            'user "%s" was not found in "%s"',
            'client sent invalid method while reading client request line',
            'rewrite or internal redirection cycle while processing "%s"',
            'using the "%s" event method',
            'upstream timed out (%d: Connection timed out) while reading response header from upstream',
            'shutdown() failed (%d: Transport endpoint is not connected)',
            'client sent HTTP/1.1 request without "Host" header while reading client request headers',
            'user "%s": password mismatch',
            'nginx/%s', 'built with %s', 'OS: %s %s', 'getrlimit(RLIMIT_NOFILE): %d:%d',
        ],
    },
    "sshd_real": {
        "raw": "sshd.log",
        "header_regex": r"^(?P<body>.*)$",
        "formats": [
            'Server listening on %s port %s.',
            'Received signal %d; terminating.',
            'Connection from %s port %d on %s port %d rdomain "%s"',
            'Accepted key %s %s found at %s:%d',
            'Postponed publickey for %s from %s port %d ssh2 [preauth]',
            'Accepted publickey for %s from %s port %d ssh2: %s %s',
            'Failed publickey for %s from %s port %d ssh2: %s %s',
            'Failed password for %s from %s port %d ssh2',
            'Failed password for invalid user %s from %s port %d ssh2',
            'Invalid user %s from %s port %d',
            'User %s not allowed because account is locked',
            'Could not get shadow information for NOUSER',
            "Could not open user '%s' authorized keys '%s': %s",
            'Starting session: command for %s from %s port %d id %d',
            'Close session: user %s from %s port %d id %d',
            'Received disconnect from %s port %d:%d: %s',
            'Disconnected from user %s %s port %d',
            'Connection closed by authenticating user %s %s port %d [preauth]',
            'Connection closed by invalid user %s %s port %d [preauth]',
            'Connection closed by %s port %d [preauth]',
            'banner exchange: Connection from %s port %d: %s',
            'kex_exchange_identification: client sent invalid protocol identifier "%s"',
            'kex_exchange_identification: Connection closed by remote host',
            'error: maximum authentication attempts exceeded for %s from %s port %d ssh2 [preauth]',
            'Disconnecting authenticating user %s %s port %d: Too many authentication failures [preauth]',
        ],
    },
    "postgresql_real": {
        "raw": "postgresql.log",
        "header_regex": r"^(?:\S+ \S+ UTC \[\d+\] |\t)(?P<body>.*)$",
        "formats": [
            'LOG:  connection received: host=%s port=%s',
            'LOG:  connection received: host=[local]',
            'LOG:  connection authenticated: identity="%s" method=scram-sha-256 (%s:%d)',
            'LOG:  connection authorized: user=%s database=%s application_name=%s',
            ('LOG:  disconnection: session time: %d:%d:%d user=%s database=%s host=%s port=%s', "disconnection"),
            ('LOG:  disconnection: session time: %d:%d:%d user=%s database=%s host=[local]', "disconnection"),
            'LOG:  temporary file: path "%s", size %d',
            'LOG:  duration: %d ms  statement: %s',
            'LOG:  automatic vacuum of table "%s.%s.%s": index scans: %d',
            'LOG:  automatic analyze of table "%s.%s.%s"',
            'LOG:  starting %s',
            'LOG:  listening on IPv4 address "%s", port %d',
            'LOG:  listening on Unix socket "%s"',
            'LOG:  database system was shut down at %s',
            'LOG:  database system is ready to accept connections',
            ('LOG:  checkpoint starting: time', "checkpoint starting"),
            ('LOG:  checkpoint starting: shutdown immediate', "checkpoint starting"),
            ('LOG:  checkpoint starting: immediate force wait', "checkpoint starting"),
            ('LOG:  checkpoint complete: wrote %d buffers (%d%%); %d WAL file(s) added, %d removed, %d recycled; '
             'write=%d s, sync=%d s, total=%d s; sync files=%d, longest=%d s, average=%d s; distance=%d kB, estimate=%d kB'),
            'LOG:  received fast shutdown request',
            'LOG:  aborting any active transactions',
            'LOG:  background worker "%s" (PID %d) exited with exit code %d',
            'LOG:  shutting down',
            'LOG:  database system is shut down',
            'ERROR:  division by zero',
            'ERROR:  syntax error at or near "%s" at character %d',
            'ERROR:  syntax error at end of input at character %d',
            'ERROR:  relation "%s" does not exist at character %d',
            'ERROR:  column "%s" does not exist at character %d',
            'ERROR:  null value in column "%s" of relation "%s" violates not-null constraint',
            'ERROR:  duplicate key value violates unique constraint "%s"',
            'ERROR:  invalid input syntax for type %s: "%s" at character %d',
            'ERROR:  permission denied for table %s',
            'ERROR:  canceling statement due to statement timeout',
            'FATAL:  database "%s" does not exist',
            'FATAL:  password authentication failed for user "%s"',
            'FATAL:  terminating connection due to administrator command',
            'DETAIL:  Key (%s)=(%s) already exists.',
            'DETAIL:  Failing row contains (%s).',
            'DETAIL:  Role "%s" does not exist.',
            'DETAIL:  Connection matched pg_hba.conf line %d: "%s"',
            'Connection matched pg_hba.conf line %d: "%s"',
            'STATEMENT:  %s',
            'pages: %d removed, %d remain, %d scanned (%d%% of total)',
            'tuples: %d removed, %d remain, %d are dead but not yet removable',
            'removable cutoff: %d, which was %d XIDs old when operation ended',
            'new relfrozenxid: %d, which is %d XIDs ahead of previous value',
            'new relminmxid: %d, which is %d MXIDs ahead of previous value',
            'frozen: %d pages from table (%d%% of total) had %d tuples frozen',
            'index scan needed: %d pages from table (%d%% of total) had %d dead item identifiers removed',
            'index scan not needed: %d pages from table (%d%% of total) had %d dead item identifiers removed',
            'index scan bypassed: %d pages from table (%d%% of total) have %d dead item identifiers',
            'index "%s": pages: %d in total, %d newly deleted, %d currently deleted, %d reusable',
            'I/O timings: read: %d ms, write: %d ms',
            'avg read rate: %d MB/s, avg write rate: %d MB/s',
            'buffer usage: %d hits, %d misses, %d dirtied',
            'WAL usage: %d records, %d full page images, %d bytes',
            'system usage: CPU: user: %d s, system: %d s, elapsed: %d s',
        ],
    },
    "dpkg_real": {
        "raw": "dpkg.log",
        "header_regex": r"^\S+ \S+ (?P<body>.*)$",
        "formats": [
            *[f"startup {a} {b}" for a, b in (("archives", "unpack"), ("packages", "configure"),
                                                ("packages", "remove"), ("packages", "purge"))],
            *[f"{act} %s %s %s" for act in ("install", "upgrade", "configure", "trigproc", "remove", "purge")],
            *[f"status {st} %s %s" for st in ("not-installed", "config-files", "half-installed", "unpacked",
                                              "half-configured", "triggers-awaited", "triggers-pending", "installed")],
            "conffile %s install", "conffile %s keep",
        ],
    },
}

_CONV = re.compile(r"%%|%d|%s")


def compile_format(fmt: str) -> tuple[re.Pattern[str], str, int]:
    """``fmt`` as an anchored regex, its template (conversions as ``<*>``) and its literal length."""
    rx, tmpl, lit, pos = [], [], 0, 0
    for m in _CONV.finditer(fmt):
        text = fmt[pos:m.start()]
        rx.append(re.escape(text))
        tmpl.append(text)
        lit += len(text)
        if m.group() == "%%":
            rx.append("%")
            tmpl.append("%")
            lit += 1
        elif m.group() == "%d":
            rx.append(r"[-+]?\d+(?:[.,:]\d+)*")
            tmpl.append("<*>")
        else:
            rx.append(".*?")
            tmpl.append("<*>")
        pos = m.end()
    rx.append(re.escape(fmt[pos:]))
    tmpl.append(fmt[pos:])
    lit += len(fmt) - pos
    return re.compile("".join(rx) + r"\Z", re.S), "".join(tmpl), lit


def _ctx_template(ctx: str) -> str:
    # The template of nginx's context suffix: every value a variable, the keys as printed.
    return re.sub(r'(: )(?:"[^"]*"|\S*?)(?=,|$)', lambda m: m.group(1) + ('"<*>"' if '"' in m.group() else "<*>"), ctx)


def label(name: str, spec: dict) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """``(kept lines, (event id, template) per kept line, unmatched bodies)`` of one raw log."""
    head = re.compile(spec["header_regex"])
    compiled = []
    events: dict[str, str] = {}
    for item in spec["formats"]:
        fmt, key = item if isinstance(item, tuple) else (item, item)
        eid = events.setdefault(key, f"E{len(events) + 1}")
        compiled.append((*compile_format(fmt), eid))
    kept, truth, missed = [], [], []
    for line in (RAW / spec["raw"]).read_text(encoding="utf-8").splitlines():
        m = head.match(line)
        body = m.group("body") if m else line
        ctx = ""
        if name == "nginx_real":
            cm = _NGX_CTX.search(body)
            if cm:
                ctx, body = cm.group("ctx"), body[:cm.start()]
        fits = [(lit, tmpl, eid) for rx, tmpl, lit, eid in compiled if rx.match(body)]
        if not fits:
            missed.append(body)
            continue
        _lit, tmpl, eid = max(fits, key=lambda f: f[0])
        kept.append(line)
        truth.append((eid, tmpl + (_ctx_template(ctx) if ctx else "")))
    return kept, truth, missed


def main() -> None:
    meta = json.loads((HERE / "datasets.json").read_text(encoding="utf-8"))
    for name, spec in FORMATS.items():
        kept, truth, missed = label(name, spec)
        (HERE / f"{name}.log").write_text("\n".join(kept) + "\n", encoding="utf-8")
        with open(HERE / f"{name}_truth.csv", "w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["LineId", "EventId", "EventTemplate"])
            for i, (eid, tmpl) in enumerate(truth, 1):
                w.writerow([i, eid, tmpl])
        meta[name] = {"header_regex": spec["header_regex"], "lines": len(kept),
                      "events": len({e for e, _ in truth}), "source": "real", "unmatched": len(missed)}
        print(f"{name}: {len(kept)} lines, {meta[name]['events']} events, {len(missed)} unmatched")
        for b in sorted(set(missed))[:15]:
            print("   unmatched:", b[:160])
    (HERE / "datasets.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
