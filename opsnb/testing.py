"""Fakes and fixtures for tests of code that uses opsnb: throwaway OpenSSH servers.

Two ways to give a test something to SSH into:

* :class:`Sshd` / :class:`SshdFleet` start real OpenSSH ``sshd`` processes on free
  loopback ports, each with its own host key, a ``known_hosts`` file naming them
  and a client key authorized for a test user. This is what integration tests and
  runbook tests use.
* :class:`FakeSshServer` is an in-process paramiko server (no root, no sshd) whose
  commands are answered by a Python function; unit tests use it to see the exact
  command string a client sent.

Example (pytest)::

    from opsnb.testing import SshdFleet, sshd_available

    @pytest.fixture
    def fleet(tmp_path):
        if not sshd_available():
            pytest.skip("missing service: openssh-server")
        with SshdFleet(3, tmp_path / "sshd") as f:
            yield f

    def test_uptime(fleet, tmp_path):
        ops = opsnb.connect(tmp_path / "ws", **fleet.settings())
        fleet.register(ops)                      # servers sshd-0 .. sshd-2
        df = ops.fleet.run("name~sshd-*", ["uptime"], mutating=False)

Existing inventory entries (the demo world's servers, say) can be pointed at a
fleet instead: ``fleet.adopt(ops, "role=web")`` gives each selected server the
port and user of one sshd. The client key and known_hosts live at fixed paths
under the fleet's directory (``client/id_ed25519``, ``client/known_hosts``), so
:meth:`SshdFleet.settings` is known before the fleet starts.

The test user is ``opsnbtest`` (created as a system user with password field
``*`` when running as root; a locked ``!`` account would be refused even with a
key), else the current user. Everything a fleet started is killed by
:meth:`SshdFleet.stop` (also on ``with`` exit and at interpreter exit),
including per-connection children and commands still running remotely.
"""

from __future__ import annotations

import atexit
import contextlib
import getpass
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsnb.workbench import Workbench

SSHD = "/usr/sbin/sshd"
TEST_USER = "opsnbtest"


def sshd_available() -> bool:
    """Whether OpenSSH's sshd is installed (Debian package openssh-server)."""
    return os.access(SSHD, os.X_OK)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- keys

@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key pair written to disk in OpenSSH format."""

    private_path: Path
    public_line: str  # "ssh-ed25519 AAAA... comment"


def make_keypair(path: Path, comment: str = "opsnb-test") -> KeyPair:
    """Write a new unencrypted ed25519 key to ``path`` (0600) and ``path.pub``.

    Uses ``cryptography`` rather than ssh-keygen: a fleet of fifty needs fifty host keys.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(priv)
    line = f"{pub.decode()} {comment}"
    path.with_name(path.name + ".pub").write_text(line + "\n")
    return KeyPair(path, line)


def test_user() -> str:
    """The user tests log in as: ``opsnbtest`` (created if root), else the current user."""
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--create-home", "--shell", "/bin/sh", TEST_USER],
                       check=False, capture_output=True)
    # A locked account ("!") is refused by sshd even with a key; "*" means "no password".
    subprocess.run(["usermod", "-p", "*", TEST_USER], check=True, capture_output=True)
    return TEST_USER


# --------------------------------------------------------------------------- processes

def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name may contain spaces and parentheses: split after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children first found, then theirs)."""
    kids, out, todo = _children_map(), [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def ssh_session_pids(port: int) -> list[int]:
    """Processes started through an sshd on ``port`` (found by their SSH_CONNECTION), even orphaned ones.

    A remote command outlives a closed connection when it does not write; it is
    re-parented to init and leaves the sshd process tree, but keeps its environment.
    """
    suffix = f" 127.0.0.1 {port}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        for var in env.split(b"\0"):
            if var.startswith(b"SSH_CONNECTION=") and var.endswith(suffix):
                found.append(int(entry))
                break
    return found


def _kill(pids: list[int], sig: int) -> None:
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)


# --------------------------------------------------------------------------- sshd

_LIVE: weakref.WeakSet[Sshd] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:  # a crashed test session must not leave sshd behind
    for s in list(_LIVE):
        with contextlib.suppress(Exception):
            s.stop()


class Sshd:
    """One throwaway OpenSSH sshd on 127.0.0.1.

    Args:
        directory: Where its config, host key, pid file and log go (created).
        authorized_key: Public key line the test user may log in with.
        user: Login user (default :func:`test_user`).
        port: TCP port (default a free one).
        max_startups: sshd ``MaxStartups`` (OpenSSH's default drops handshakes past 10).
        extra_config: More sshd_config lines.

    Attributes:
        port, user, host_key (public line), known_hosts_line, log_path.
    """

    def __init__(self, directory: Path, authorized_key: str, *, user: str | None = None,
                 port: int | None = None, max_startups: str = "10:30:100",
                 extra_config: str = "") -> None:
        self.directory = Path(directory)
        self.user = user or test_user()
        self.port = port or 0
        self.authorized_key = authorized_key
        self.max_startups = max_startups
        self.extra_config = extra_config
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.directory / "sshd.log"
        self.host_key = ""
        self._ak_dir: Path | None = None

    @property
    def address(self) -> str:
        return "127.0.0.1"

    @property
    def known_hosts_line(self) -> str:
        """The line ``known_hosts`` needs to verify this server (``[127.0.0.1]:PORT ssh-ed25519 ...``)."""
        kind, blob = self.host_key.split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}"

    def _write_config(self) -> Path:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        # The login user reads authorized_keys from here: the directory must be traversable.
        os.chmod(d, 0o755)
        hk_path = d / "ssh_host_ed25519_key"
        if hk_path.exists():  # a restarted sshd keeps its identity
            self.host_key = hk_path.with_name(hk_path.name + ".pub").read_text().strip()
            hk = KeyPair(hk_path, self.host_key)
        else:
            hk = make_keypair(hk_path, comment="opsnb-test-host")
            self.host_key = hk.public_line
        # sshd reads authorized_keys as the login user, who may not traverse the caller's
        # directory (pytest's tmp root is 0700): keep it in a world-traversable temp dir.
        if self._ak_dir is None:
            self._ak_dir = Path(tempfile.mkdtemp(prefix="opsnb-sshd-ak-"))
            os.chmod(self._ak_dir, 0o755)
        ak = self._ak_dir / "authorized_keys"
        ak.write_text(self.authorized_key.strip() + "\n")
        os.chmod(ak, 0o644)
        root_login = "prohibit-password" if self.user == "root" else "no"
        cfg = d / "sshd_config"
        cfg.write_text(
            f"Port {self.port}\n"
            "ListenAddress 127.0.0.1\n"
            f"HostKey {hk.private_path}\n"
            f"PidFile {d / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {ak}\n"
            "UsePAM no\n"
            "PasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\n"
            # Temp dirs live under world-writable /tmp, which StrictModes refuses.
            "StrictModes no\n"
            f"AllowUsers {self.user}\n"
            f"PermitRootLogin {root_login}\n"
            f"MaxStartups {self.max_startups}\n"
            "MaxSessions 64\n"
            "AllowTcpForwarding yes\n"
            "PrintMotd no\n"
            "PrintLastLog no\n"
            "UseDNS no\n"
            "LogLevel ERROR\n"
            "Subsystem sftp internal-sftp\n"
            f"{self.extra_config}\n"
        )
        return cfg

    def start(self, timeout: float = 10.0) -> Sshd:
        """Start sshd and wait until it answers with an SSH banner.

        Raises:
            RuntimeError: sshd is missing, exited, or did not answer in time (its log is quoted).
        """
        if not sshd_available():
            raise RuntimeError(f"{SSHD} not found: install openssh-server")
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        for attempt in range(5):
            if not self.port or attempt:
                self.port = free_port()
            cfg = self._write_config()
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-f", str(cfg), "-E", str(self.log_path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _LIVE.add(self)
            if self._wait_ready(timeout):
                return self
            # Lost the race for the port, or a config problem: see the log.
            self.stop()
        log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        raise RuntimeError(f"sshd on port {self.port} did not start: {log.strip()[-2000:]}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    if s.recv(64).startswith(b"SSH-"):
                        return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def pids(self) -> list[int]:
        """The listener and every process it spawned (connections, remote commands)."""
        if self.proc is None:
            return []
        return [self.proc.pid, *descendants(self.proc.pid)]

    def stop(self) -> None:
        """Kill the listener, its connection handlers and any remote command still running."""
        proc = self.proc
        if proc is None:
            return
        # Collect the tree first: once the listener dies its children are re-parented.
        tree = descendants(proc.pid)
        _kill([proc.pid], signal.SIGKILL)
        _kill(tree, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        # Commands orphaned by a closed connection are no longer in the tree.
        _kill(ssh_session_pids(self.port), signal.SIGKILL)
        self.proc = None
        _LIVE.discard(self)
        if self._ak_dir is not None:
            shutil.rmtree(self._ak_dir, ignore_errors=True)
            self._ak_dir = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> Sshd:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<Sshd 127.0.0.1:{self.port} user={self.user} {'running' if self.running else 'stopped'}>"


class SshdFleet:
    """N throwaway sshd instances standing in for a fleet, sharing one client key and known_hosts.

    Args:
        n: How many sshd to start.
        directory: Working directory (default a new temporary one, removed on stop).
        prefix: Server names are ``{prefix}{i}``.
        max_startups: Passed to each :class:`Sshd`.
        labels: ``labels(i) -> dict`` for :meth:`register` (default role alternates web/db).
        extra_config: More sshd_config lines for every server, or ``extra_config(i) -> str``
            for server ``i`` (e.g. ``SetEnv PATH=...`` to put stand-in commands first on the
            remote PATH, per server).

    Attributes:
        servers: The :class:`Sshd` instances.
        client_key: Private key file authorized on every server.
        known_hosts: known_hosts file listing every server's host key.
    """

    def __init__(self, n: int, directory: str | os.PathLike[str] | None = None, *, prefix: str = "sshd-",
                 max_startups: str = "10:30:100",
                 labels: Callable[[int], dict[str, str]] | None = None,
                 extra_config: str | Callable[[int], str] = "") -> None:
        self._own_dir = directory is None
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="opsnb-sshd-"))
        self.n = n
        self.prefix = prefix
        self.max_startups = max_startups
        self.labels = labels or (lambda i: {"role": "web" if i % 2 == 0 else "db", "env": "test"})
        self.extra_config = extra_config
        self.servers: list[Sshd] = []
        self.client_key = self.directory / "client" / "id_ed25519"
        self.known_hosts = self.directory / "client" / "known_hosts"
        self._lock = threading.Lock()

    def start(self, timeout: float = 20.0) -> SshdFleet:
        """Start every sshd in parallel (each start is mostly waiting for a port)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        key = make_keypair(self.client_key, comment="opsnb-test-client")
        user = test_user()
        extra = self.extra_config
        self.servers = [Sshd(self.directory / f"{self.prefix}{i}", key.public_line, user=user,
                             max_startups=self.max_startups, extra_config=extra(i) if callable(extra) else extra)
                        for i in range(self.n)]
        with ThreadPoolExecutor(max_workers=min(16, max(1, self.n))) as ex:
            futures = [ex.submit(s.start, timeout) for s in self.servers]
            errors = [f.exception() for f in futures]
        if any(errors):
            self.stop()
            raise next(e for e in errors if e is not None)
        self.write_known_hosts()
        return self

    def write_known_hosts(self, path: Path | None = None) -> Path:
        """Write every server's host key line to ``path`` (default :attr:`known_hosts`)."""
        path = path or self.known_hosts
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(s.known_hosts_line + "\n" for s in self.servers))
        return path

    @property
    def user(self) -> str:
        return self.servers[0].user if self.servers else test_user()

    def settings(self) -> dict[str, Any]:
        """Settings for :func:`opsnb.connect` so a workbench trusts and can log in to this fleet."""
        return {"known_hosts": str(self.known_hosts), "ssh_key_file": str(self.client_key)}

    def inventory(self) -> list[dict[str, Any]]:
        """Keyword arguments for ``ops.fleet.create`` for every server."""
        return [
            {"name": f"{self.prefix}{i}", "address": "127.0.0.1", "port": s.port, "user": s.user,
             "labels": dict(self.labels(i)), "platform": "debian"}
            for i, s in enumerate(self.servers)
        ]

    def register(self, ops: Workbench) -> list[str]:
        """Add every server to ``ops``'s inventory (``ops.fleet.create``). Returns the names."""
        names = []
        for kw in self.inventory():
            ops.fleet.create(**kw)
            names.append(kw["name"])
        return names

    def adopt(self, ops: Workbench, selector: str | None = None) -> list[str]:
        """Point existing inventory servers (e.g. the demo world's) at this fleet's sshd, in order.

        Each selected server gets address 127.0.0.1, the port and user of one sshd and
        the default credential, so runbooks written against the inventory run for real.
        The workbench must use :meth:`settings` (known_hosts and client key).

        Raises:
            ValueError: More servers selected than sshd started.
        """
        servers = ops.fleet.select(selector)
        if len(servers) > len(self.servers):
            raise ValueError(f"{len(servers)} servers selected but only {len(self.servers)} sshd started")
        for srv, sshd in zip(servers, self.servers, strict=False):
            ops.fleet.update(srv.name, address="127.0.0.1", port=sshd.port, user=sshd.user, credential="",
                             proxy_jump="", reason="opsnb.testing: served by a throwaway sshd")
        return [s.name for s in servers]

    def pids(self) -> list[int]:
        return [p for s in self.servers for p in s.pids()]

    def stop(self) -> None:
        """Stop every sshd (and their children); remove the directory if this fleet made it."""
        for s in self.servers:
            s.stop()
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __getitem__(self, i: int) -> Sshd:
        return self.servers[i]

    def __len__(self) -> int:
        return len(self.servers)

    def __enter__(self) -> SshdFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- in-process fake

@dataclass
class FakeCommand:
    """What a :class:`FakeSshServer` handler returns for one exec request."""

    exit_status: int = 0
    stdout: bytes = b""
    stderr: bytes = b""
    delay: float = 0.0  # seconds to wait before answering (to test timeouts)


Handler = Callable[[str], FakeCommand]


def echo_handler(command: str) -> FakeCommand:
    """Answer every command with the exact command string received, on stdout."""
    return FakeCommand(0, command.encode("utf-8", "surrogateescape"))


class FakeSshServer:
    """An in-process SSH server (paramiko) on 127.0.0.1 for unit tests; no sshd, no root.

    Public-key auth accepts ``client_key``'s public key for ``user``; exec requests
    are answered by ``handler(command_string)``. ``commands`` records every command
    string received, so a test sees exactly what the client sent.

    Args:
        directory: Where the host key, client key and known_hosts are written.
        handler: Answers exec requests (default: echo the command).
        user: Accepted user name.
        drop_first: Close the first N TCP connections before the banner (like
            sshd's MaxStartups), to test handshake retries.
    """

    def __init__(self, directory: str | os.PathLike[str], handler: Handler = echo_handler, *,
                 user: str = "tester", drop_first: int = 0) -> None:
        self.directory = Path(directory)
        self.handler = handler
        self.user = user
        self.drop_first = drop_first
        self.commands: list[str] = []
        self.connections = 0
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._transports: list[Any] = []
        self.port = 0

    def start(self) -> FakeSshServer:
        import paramiko  # test helper: paramiko stays out of every product module but ssh.py

        self.directory.mkdir(parents=True, exist_ok=True)
        hk = make_keypair(self.directory / "host_key", "fake-host")
        ck = make_keypair(self.directory / "id_ed25519", "fake-client")
        self.host_key_line = hk.public_line
        self._host_key = paramiko.Ed25519Key(filename=str(hk.private_path))
        self._client_pub = ck.public_line.split()[1]
        self.client_key = ck.private_path
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.known_hosts = self.directory / "known_hosts"
        kind, blob = hk.public_line.split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {kind} {blob}\n")
        t = threading.Thread(target=self._accept_loop, name="fake-sshd", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def settings(self) -> dict[str, Any]:
        return {"known_hosts": str(self.known_hosts), "ssh_key_file": str(self.client_key)}

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            if self.connections <= self.drop_first:
                conn.close()
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        import paramiko

        server = self
        client_pub = self._client_pub

        class Iface(paramiko.ServerInterface):
            def get_allowed_auths(self, username: str) -> str:
                return "publickey"

            def check_auth_publickey(self, username: str, key: Any) -> int:
                ok = username == server.user and key.get_base64() == client_pub
                return paramiko.common.AUTH_SUCCESSFUL if ok else paramiko.common.AUTH_FAILED

            def check_channel_request(self, kind: str, chanid: int) -> int:
                return paramiko.common.OPEN_SUCCEEDED if kind == "session" else \
                    paramiko.common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

            def check_channel_exec_request(self, channel: Any, command: bytes) -> bool:
                text = command.decode("utf-8", "surrogateescape")
                server.commands.append(text)
                threading.Thread(target=server._answer, args=(channel, text), daemon=True).start()
                return True

        t = paramiko.Transport(conn)
        self._transports.append(t)
        t.add_server_key(self._host_key)
        try:
            t.start_server(server=Iface())
        except (paramiko.SSHException, EOFError, OSError):
            return

    def _answer(self, channel: Any, command: str) -> None:
        # paramiko replies to the exec request only after check_channel_exec_request
        # returns: answering (and closing) sooner makes the client see a closed channel.
        time.sleep(0.01)
        try:
            res = self.handler(command)
            if res.delay:
                end = time.monotonic() + res.delay
                while time.monotonic() < end and not channel.closed and not self._stop.is_set():
                    time.sleep(0.02)
            if channel.closed:
                return
            if res.stdout:
                channel.sendall(res.stdout)
            if res.stderr:
                channel.sendall_stderr(res.stderr)
            channel.send_exit_status(res.exit_status)
            channel.shutdown_write()
            channel.close()
        except (OSError, EOFError):
            pass
        except Exception:  # a broken handler must not hang the client: report it as a failure
            with contextlib.suppress(Exception):
                channel.sendall_stderr(b"fake handler failed\n")
                channel.send_exit_status(255)
                channel.close()

    def stop(self) -> None:
        self._stop.set()
        for t in self._transports:
            with contextlib.suppress(Exception):
                t.close()
        if self._sock is not None:
            self._sock.close()
        for th in self._threads:
            th.join(timeout=2)

    def __enter__(self) -> FakeSshServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def sshd_fleet(n: int, directory: str | os.PathLike[str] | None = None, **kw: Any) -> Iterator[SshdFleet]:
    """Context manager form of :class:`SshdFleet` (started on entry, stopped on exit)."""
    fleet = SshdFleet(n, directory, **kw)
    try:
        yield fleet.start()
    finally:
        fleet.stop()
