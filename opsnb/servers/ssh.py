"""SSH connections: the only opsnb module that imports paramiko.

Security defaults:

* Host keys are verified against ``known_hosts`` (an unknown key is refused; a
  changed key is always refused). Trust-on-first-use happens only when asked, and
  the caller is told (``on_new_host_key``) so it can audit the acceptance.
* Credentials come from ssh-agent, a key file, or a passphrase/password read
  from an environment variable or a file at connect time: nothing secret is kept
  beyond the handshake that needs it.
* A command is an argument list, each argument quoted for the remote POSIX shell;
  a shell string is only run when passed explicitly as ``shell=``.

Speed: ``TCP_NODELAY`` is set (paramiko does not set it: 50 commands on one
connection took 2.4 s without it, 0.19 s with it), and refused handshakes
(OpenSSH's ``MaxStartups`` drops the ones past ten) are retried with backoff.

A remote command's process group is killed when it times out or is cancelled:
every command first prints the PID of its login shell, which sshd made a
session leader, so ``kill -KILL -PID`` on a second channel stops it and its
children (closing the channel alone leaves a command that does not write running).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import selectors
import shlex
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from opsnb.errors import (
    AuthError,
    CommandError,
    CommandTimeout,
    ConnectError,
    HostKeyError,
    RemoteError,
    ValidationError,
)
from opsnb.servers.commands import (  # re-exported: the SSH vocabulary
    DEFAULT_MAX_OUTPUT,
    CommandResult,
    Endpoint,
    build_command,
    decode,
)

# paramiko logs every dropped handshake with a traceback; without a handler Python's
# last-resort handler prints those to stderr (and into notebooks). We raise clear errors
# instead; an application that configures logging still sees paramiko's records.
logging.getLogger("paramiko").addHandler(logging.NullHandler())

_PID_PREFIX = "printf '%s\\n' \"$$\"; "
_RETRYABLE = ("Error reading SSH protocol banner", "Connection reset", "EOF during negotiation")


def _wait_readable(chan: Any, timeout: float | None) -> None:
    """Wait until a channel has data or ``timeout`` passes.

    ``select.select`` fails once a process has descriptors numbered 1024 or more (a long-lived
    server or test worker gets there); epoll, behind ``selectors``, has no such limit.
    """
    with selectors.DefaultSelector() as sel:
        sel.register(chan, selectors.EVENT_READ)
        sel.select(timeout)


@dataclass
class SshOptions:
    """Connection settings (built from the workbench settings by :meth:`from_settings`)."""

    known_hosts: Path
    trust_on_first_use: bool = False
    key_file: str = ""
    passphrase_env: str = ""
    passphrase_file: str = ""
    password_env: str = ""
    password_file: str = ""
    connect_timeout: float = 10.0
    handshake_retries: int = 6
    on_new_host_key: Callable[[Endpoint, str, str], None] | None = None

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> SshOptions:
        return cls(
            known_hosts=Path(str(settings.known_hosts)).expanduser(),
            trust_on_first_use=bool(settings.ssh_trust_on_first_use),
            key_file=str(settings.ssh_key_file),
            passphrase_env=str(settings.ssh_passphrase_env),
            passphrase_file=str(settings.get("ssh_passphrase_file", "")),
            password_env=str(settings.get("ssh_password_env", "")),
            password_file=str(settings.get("ssh_password_file", "")),
            connect_timeout=float(settings.ssh_connect_timeout),
            **kw,
        )


def _read_secret(env: str, path: str, what: str) -> str | None:
    if env:
        val = os.environ.get(env)
        if val is None:
            raise AuthError(f"{what} environment variable {env} is not set", variable=env)
        return val
    if path:
        try:
            return Path(path).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise AuthError(f"cannot read the {what} file {path}: {exc.strerror}", path=path) from None
    return None


def fingerprint(key: Any) -> str:
    """OpenSSH-style SHA256 fingerprint of a paramiko key."""
    return str(key.fingerprint)


# --------------------------------------------------------------------------- known_hosts

class KnownHosts:
    """A known_hosts file, reloaded when it changes; appends for trust-on-first-use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._keys = paramiko.HostKeys()

    def _load(self) -> None:
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._keys, self._mtime = paramiko.HostKeys(), None
            return
        if mtime != self._mtime:
            keys = paramiko.HostKeys()
            try:
                keys.load(str(self.path))
            except (OSError, paramiko.SSHException) as exc:
                raise HostKeyError(f"cannot read known_hosts {self.path}: {exc}", path=str(self.path)) from None
            self._keys, self._mtime = keys, mtime

    def lookup(self, name: str) -> dict[str, Any]:
        """Key type -> key for a host name (``host`` or ``[host]:port``)."""
        with self._lock:
            self._load()
            found = self._keys.lookup(name)
            return dict(found) if found else {}

    def add(self, name: str, key: Any) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
            self._mtime = None


# --------------------------------------------------------------------------- credentials

class KeyStore:
    """Loads private keys once per process (keyed by path and mtime) and lists agent keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, float], Any] = {}

    def load(self, path: str, options: SshOptions) -> Any:
        p = Path(path).expanduser()
        try:
            mtime = p.stat().st_mtime
        except OSError as exc:
            raise AuthError(f"cannot read the SSH key {p}: {exc.strerror}", path=str(p)) from None
        with self._lock:
            cached = self._keys.get((str(p), mtime))
            if cached is not None:
                return cached
        try:
            key = paramiko.PKey.from_path(str(p))
        except (paramiko.PasswordRequiredException, TypeError):  # cryptography raises TypeError for OpenSSH keys
            phrase = _read_secret(options.passphrase_env, options.passphrase_file, "SSH key passphrase")
            if phrase is None:
                raise AuthError(f"the SSH key {p} is encrypted: name its passphrase with the setting "
                                "ssh_passphrase_env or ssh_passphrase_file", path=str(p)) from None
            try:
                # cryptography wants bytes; the stubs say str
                key = paramiko.PKey.from_path(str(p), phrase.encode())  # type: ignore[arg-type]
            except (paramiko.SSHException, ValueError, TypeError):
                raise AuthError(f"the passphrase does not decrypt the SSH key {p}", path=str(p)) from None
        except (paramiko.SSHException, ValueError, OSError) as exc:
            raise AuthError(f"cannot load the SSH key {p}: {exc}", path=str(p)) from None
        with self._lock:
            self._keys[(str(p), mtime)] = key
        return key

    def agent_keys(self) -> list[Any]:
        if not os.environ.get("SSH_AUTH_SOCK"):
            return []
        try:
            return list(paramiko.Agent().get_keys())
        except (paramiko.SSHException, OSError):
            return []


def _auth(t: Any, ep: Endpoint, options: SshOptions, keys: KeyStore) -> None:
    cred = ep.credential
    tried: list[str] = []
    candidates: list[tuple[str, Any]] = []
    password: str | None = None
    if cred.startswith("key:"):
        candidates.append((cred[4:], keys.load(cred[4:], options)))
    elif cred == "agent":
        candidates += [("agent", k) for k in keys.agent_keys()]
    elif cred.startswith("password-env:"):
        password = _read_secret(cred[len("password-env:"):], "", "SSH password")
    elif cred.startswith("password-file:"):
        password = _read_secret("", cred[len("password-file:"):], "SSH password")
    else:
        if options.key_file:
            candidates.append((options.key_file, keys.load(options.key_file, options)))
        else:
            candidates += [("agent", k) for k in keys.agent_keys()]
            for name in ("id_ed25519", "id_ecdsa", "id_rsa"):
                p = Path("~/.ssh").expanduser() / name
                if p.is_file():
                    with contextlib.suppress(AuthError):
                        candidates.append((str(p), keys.load(str(p), options)))
        password = _read_secret(options.password_env, options.password_file, "SSH password")
    for label, key in candidates:
        tried.append(f"publickey ({label})")
        try:
            t.auth_publickey(ep.user, key)
            if t.is_authenticated():
                return
        except paramiko.BadAuthenticationType:
            break
        except paramiko.AuthenticationException:
            continue
        except paramiko.SSHException as exc:
            raise ConnectError(f"{ep.name} ({ep}): SSH failed during authentication: {exc}",
                               host=ep.name, port=ep.port) from None
    if password is not None:
        tried.append("password")
        try:
            t.auth_password(ep.user, password)
            if t.is_authenticated():
                return
        except paramiko.AuthenticationException:
            pass
        finally:
            password = None
    raise AuthError(
        f"{ep.name} ({ep}): no credential was accepted for user {ep.user!r} "
        f"(tried: {', '.join(tried) or 'nothing: no key file, agent key or password configured'})",
        host=ep.name, user=ep.user)


# --------------------------------------------------------------------------- connections

def _tcp(ep: Endpoint, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((ep.address, ep.port), timeout=timeout)
    except TimeoutError:
        raise ConnectError(f"{ep.name} ({ep}): connection timed out after {timeout:g}s",
                           host=ep.name, port=ep.port) from None
    except ConnectionRefusedError:
        raise ConnectError(f"{ep.name} ({ep}): connection refused (is sshd running on port {ep.port}?)",
                           host=ep.name, port=ep.port) from None
    except OSError as exc:
        raise ConnectError(f"{ep.name} ({ep}): cannot connect: {exc.strerror or exc}",
                           host=ep.name, port=ep.port) from None
    # paramiko never sets it, and Nagle + delayed ACK costs ~40 ms per command round trip.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _verify_host_key(t: Any, ep: Endpoint, known: KnownHosts, options: SshOptions) -> None:
    key = t.get_remote_server_key()
    name = ep.known_hosts_name
    have = known.lookup(name)
    kind = key.get_name()
    if kind in have:
        if have[kind] == key:
            return
        raise HostKeyError(
            f"{ep.name} ({ep}): HOST KEY MISMATCH: the server presented {kind} {fingerprint(key)}, but "
            f"{known.path} has a different key for {name}. Someone may be intercepting the connection, "
            "or the host was reinstalled; remove the old line only after checking.",
            host=ep.name, fingerprint=fingerprint(key), known_hosts=str(known.path))
    if have:
        raise HostKeyError(
            f"{ep.name} ({ep}): the server presented a {kind} key ({fingerprint(key)}) but {known.path} "
            f"knows only {', '.join(sorted(have))} keys for {name}; refusing",
            host=ep.name, fingerprint=fingerprint(key), known_hosts=str(known.path))
    if not options.trust_on_first_use:
        raise HostKeyError(
            f"{ep.name} ({ep}): unknown host key {kind} {fingerprint(key)}: {name} is not in {known.path}. "
            "Verify the fingerprint and add it (ssh-keyscan), or allow trust-on-first-use "
            "(setting ssh_trust_on_first_use, audited)",
            host=ep.name, fingerprint=fingerprint(key), known_hosts=str(known.path))
    known.add(name, key)
    if options.on_new_host_key is not None:
        options.on_new_host_key(ep, kind, fingerprint(key))


def _prefer_known_key_types(t: Any, have: dict[str, Any]) -> None:
    # Ask for the key types known_hosts holds, so a host with several keys is not
    # mistaken for a changed one because the server offered another type first.
    if not have:
        return
    opts = t.get_security_options()
    wanted: list[str] = []
    for kind in have:
        wanted += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if kind == "ssh-rsa" else [kind]
    available = list(opts.key_types)
    first = [k for k in wanted if k in available]
    opts.key_types = first + [k for k in available if k not in first]


def _handshake(sock: Any, ep: Endpoint, options: SshOptions, known: KnownHosts) -> Any:
    t = paramiko.Transport(sock)
    t.banner_timeout = options.connect_timeout
    t.handshake_timeout = options.connect_timeout
    t.auth_timeout = options.connect_timeout
    _prefer_known_key_types(t, known.lookup(ep.known_hosts_name))
    try:
        t.start_client(timeout=options.connect_timeout)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        t.close()
        retryable = _is_retryable(exc)
        hint = " (the server closed the connection before its banner: too many concurrent handshakes " \
               "for its MaxStartups, or not an SSH server)" if retryable else ""
        raise ConnectError(f"{ep.name} ({ep}): SSH handshake failed: {exc or type(exc).__name__}{hint}",
                           host=ep.name, port=ep.port, retryable=retryable) from None
    return t


def _is_retryable(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, EOFError | ConnectionResetError) or any(r in text for r in _RETRYABLE) or not text


class Connection:
    """An authenticated SSH connection to one server.

    Use :meth:`run` for commands and :meth:`get` / :meth:`put` for files. Close it
    (or use ``with``) when done; connections from a pool go back to the pool.
    """

    def __init__(self, endpoint: Endpoint, transport: Any, *, jump: Connection | None = None,
                 on_close: Callable[[Connection], None] | None = None) -> None:
        self.endpoint = endpoint
        self.transport = transport
        self.jump = jump
        self._sftp: Any = None
        self._on_close = on_close
        self.created = time.monotonic()
        self.last_used = self.created

    @property
    def host(self) -> str:
        return self.endpoint.name

    @property
    def alive(self) -> bool:
        return bool(self.transport is not None and self.transport.is_active())

    def run(self, argv: Sequence[str] | None = None, *, shell: str | None = None, timeout: float | None = 30.0,
            sudo: bool = False, stdin: bytes | str | None = None, max_output: int = DEFAULT_MAX_OUTPUT,
            cancel: threading.Event | None = None) -> CommandResult:
        """Run one command and wait for it; a non-zero exit is a result, not an error.

        Args:
            argv: Argument list, quoted for the remote shell.
            shell: A shell command line instead of ``argv`` (explicit, never built from input).
            timeout: Seconds before the remote process group is killed (None: no limit).
            sudo: Run through ``sudo -n``.
            stdin: Bytes fed to the command's standard input (default: empty, closed).
            max_output: Bytes kept per stream; more is read (so the command is not blocked) and dropped.
            cancel: When set, the command is killed and :class:`CommandError` raised.

        Raises:
            CommandTimeout: The command ran past ``timeout`` and was killed (``stdout``/``stderr``
                fields hold what it printed).
            RemoteError: The connection broke.
        """
        command = build_command(argv, shell=shell, sudo=sudo)
        self.last_used = time.monotonic()
        if not self.alive:
            raise RemoteError(f"{self.host}: the connection is closed", host=self.host, not_started=True)
        try:
            chan = self.transport.open_session(timeout=10.0)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self.close(broken=True)
            # Nothing ran: safe to retry on a fresh connection (a pooled one may have gone stale).
            raise RemoteError(f"{self.host}: cannot open a session: {exc}", host=self.host,
                              not_started=True) from None
        start = time.perf_counter()
        out, err = _Sink(max_output), _Sink(max_output)
        pid: int | None = None
        deadline = None if timeout is None else start + timeout
        try:
            # "exec": the login shell becomes the command (one process less per command, and
            # the command itself leads the process group). A shell string runs as written.
            chan.exec_command(_PID_PREFIX + (command if shell is not None else "exec " + command))
            # A fast command may exit (and its channel close) before we finish writing: not an error.
            with contextlib.suppress(paramiko.SSHException, OSError):
                if stdin:
                    chan.sendall(stdin.encode() if isinstance(stdin, str) else stdin)
                chan.shutdown_write()  # like ssh -n: a command reading stdin sees EOF, not a hang
            pid_buf = b""

            def check_deadline() -> float:
                now = time.perf_counter()
                if cancel is not None and cancel.is_set():
                    self._kill(pid, sudo)
                    raise CommandError(f"{command!r} on {self.host} was cancelled",
                                       host=self.host, command=command, exit_status=None)
                if deadline is not None and now >= deadline:
                    self._kill(pid, sudo)
                    raise CommandTimeout(
                        f"{command!r} on {self.host} ran past its {timeout:g}s timeout and was killed",
                        host=self.host, command=command, timeout=timeout, exit_status=None,
                        stdout=decode(out.data()), stderr=decode(err.data()))
                return 0.5 if deadline is None else max(0.0, min(0.5, deadline - now))

            # Read both streams until the server's EOF (stderr data always precedes it) ...
            while True:
                progressed = False
                while chan.recv_ready():
                    data = chan.recv(65536)
                    if not data:
                        break
                    progressed = True
                    if pid is None:
                        pid_buf += data
                        if b"\n" in pid_buf:
                            head, _, rest = pid_buf.partition(b"\n")
                            pid = int(head) if head.isdigit() else -1
                            out.write(rest if pid > 0 else pid_buf)
                            pid_buf = b""
                        continue
                    out.write(data)
                while chan.recv_stderr_ready():
                    data = chan.recv_stderr(65536)
                    if not data:
                        break
                    progressed = True
                    err.write(data)
                if (chan.eof_received or chan.closed) and not chan.recv_ready() and not chan.recv_stderr_ready():
                    break
                wait = check_deadline()
                if not progressed:
                    _wait_readable(chan, wait)
            # ... then for the exit status, which follows the EOF.
            while not chan.exit_status_ready() and not chan.closed:
                chan.status_event.wait(check_deadline())
            if pid_buf:  # output without a newline: the PID line never completed
                out.write(pid_buf)
            status = chan.recv_exit_status() if chan.exit_status_ready() else None
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):  # a notebook's interrupt button cancels the command
                self._kill(pid, sudo)
            with contextlib.suppress(Exception):
                chan.close()
            if isinstance(exc, (paramiko.SSHException, EOFError, OSError)):
                self.close(broken=True)
                raise RemoteError(f"{self.host}: connection lost while running {command!r}: {exc}",
                                  host=self.host, command=command) from None
            raise
        chan.close()
        duration = time.perf_counter() - start
        if status is None or status == -1:
            if not self.alive:
                raise RemoteError(f"{self.host}: connection lost while running {command!r}",
                                  host=self.host, command=command)
            status = None
        self.last_used = time.monotonic()
        so, se = out.data(), err.data()
        return CommandResult(self.host, command, status, decode(so), decode(se), duration, so, se,
                             out.dropped > 0 or err.dropped > 0)

    def _kill(self, pid: int | None, sudo: bool) -> None:
        """Kill the remote process group of a running command (best effort, short wait)."""
        if not pid or pid <= 0 or not self.alive:
            return
        # "kill -SIG -PGID", not "kill -- -PGID": dash's builtin kill rejects "--".
        kill = f"kill -TERM -{pid} 2>/dev/null; sleep 0.2; kill -KILL -{pid} 2>/dev/null; true"
        if sudo:
            kill = f"sudo -n -- sh -c {shlex.quote(kill)}"
        try:
            chan = self.transport.open_session(timeout=5.0)
            chan.exec_command(kill)
            chan.shutdown_write()
            end = time.monotonic() + 3.0
            while not chan.exit_status_ready() and time.monotonic() < end:
                _wait_readable(chan, 0.1)
                if chan.recv_ready():
                    chan.recv(4096)
                if chan.recv_stderr_ready():
                    chan.recv_stderr(4096)
            chan.close()
        except (paramiko.SSHException, EOFError, OSError):
            pass

    def sftp(self) -> Any:
        """The connection's SFTP client (opened once)."""
        if self._sftp is None:
            try:
                self._sftp = paramiko.SFTPClient.from_transport(self.transport)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise RemoteError(f"{self.host}: cannot start SFTP: {exc}", host=self.host) from None
        return self._sftp

    def get(self, remote: str, local: str | os.PathLike[str]) -> Path:
        """Copy a remote file to ``local`` (written to a temporary name, then renamed)."""
        dest = Path(local)
        tmp = dest.with_name(f".{dest.name}.part")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            self.sftp().get(remote, str(tmp))
            os.replace(tmp, dest)
        except FileNotFoundError:
            tmp.unlink(missing_ok=True)
            raise RemoteError(f"{self.host}: no such remote file {remote}", host=self.host, path=remote) from None
        except (OSError, paramiko.SSHException) as exc:
            tmp.unlink(missing_ok=True)
            raise RemoteError(f"{self.host}: cannot get {remote}: {exc}", host=self.host, path=remote) from None
        return dest

    def put(self, local: str | os.PathLike[str], remote: str) -> None:
        """Copy ``local`` to ``remote`` (uploaded to a temporary name, then renamed)."""
        src = Path(local)
        if not src.is_file():
            raise ValidationError(f"{src} is not a file", field="local")
        tmp = f"{remote}.opsnb-part"
        try:
            sftp = self.sftp()
            sftp.put(str(src), tmp)
            with contextlib.suppress(OSError):
                sftp.remove(remote)
            sftp.rename(tmp, remote)
        except (OSError, paramiko.SSHException) as exc:
            with contextlib.suppress(Exception):
                self.sftp().remove(tmp)
            raise RemoteError(f"{self.host}: cannot put {remote}: {exc}", host=self.host, path=remote) from None

    def close(self, *, broken: bool = False) -> None:
        """Close (or hand back to its pool). ``broken`` forces a real close."""
        if self._on_close is not None and not broken:
            self._on_close(self)
            return
        self._really_close()

    def _really_close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
            self._sftp = None
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Connection {self.host} {self.endpoint} {'open' if self.alive else 'closed'}>"


class _Sink:
    """Keeps up to ``limit`` bytes, counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.dropped = 0

    @property
    def size(self) -> int:
        return len(self.buf) + self.dropped

    def write(self, data: bytes) -> None:
        room = self.limit - len(self.buf)
        if room > 0:
            self.buf += data[:room]
        self.dropped += max(0, len(data) - max(room, 0))

    def data(self) -> bytes:
        return bytes(self.buf)


def open_connection(ep: Endpoint, options: SshOptions, *, known: KnownHosts, keys: KeyStore,
                    jump: Connection | None = None) -> Connection:
    """Connect (directly, or through ``jump``), verify the host key and authenticate.

    Handshakes the server drops before its banner (sshd ``MaxStartups``) are retried
    with jittered exponential backoff.

    Raises:
        ConnectError, HostKeyError, AuthError: naming the server and what failed.
    """
    attempt = 0
    while True:
        if jump is not None:
            try:
                sock: Any = jump.transport.open_channel(
                    "direct-tcpip", (ep.address, ep.port), ("127.0.0.1", 0), timeout=options.connect_timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise ConnectError(f"{ep.name} ({ep}): the jump host {jump.host} cannot reach it: {exc}",
                                   host=ep.name, port=ep.port, jump=jump.host) from None
        else:
            sock = _tcp(ep, options.connect_timeout)
        try:
            t = _handshake(sock, ep, options, known)
            break
        except ConnectError as exc:
            with contextlib.suppress(Exception):
                sock.close()
            attempt += 1
            if not exc.retryable or attempt > options.handshake_retries:
                raise
            time.sleep(min(2.0, 0.05 * 2 ** attempt) * (0.5 + random.random()))
    try:
        _verify_host_key(t, ep, known, options)
        _auth(t, ep, options, keys)
    except BaseException:
        t.close()
        raise
    # Keepalives notice a dead peer on a pooled connection before a command hangs on it.
    t.set_keepalive(30)
    return Connection(ep, t, jump=jump)
