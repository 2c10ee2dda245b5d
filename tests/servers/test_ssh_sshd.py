"""SSH against real OpenSSH sshd on loopback."""

from __future__ import annotations

import getpass
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsnb.errors import AuthError, CommandTimeout, ConnectError, HostKeyError, ValidationError
from opsnb.servers.pool import Pool
from opsnb.servers.ssh import Endpoint, SshOptions
from opsnb.testing import SshdFleet, free_port, make_keypair, ssh_session_pids
from tests.conftest import skip_missing

pytestmark = pytest.mark.sshd


def endpoint(fleet: SshdFleet, i: int = 0, **kw: object) -> Endpoint:
    return Endpoint(f"sshd-{i}", "127.0.0.1", fleet[i].port, fleet.user, **kw)  # type: ignore[arg-type]


@pytest.fixture
def pool(sshd_fleet: SshdFleet):  # type: ignore[no-untyped-def]
    p = Pool(SshOptions(known_hosts=sshd_fleet.known_hosts, key_file=str(sshd_fleet.client_key)))
    yield p
    p.close()


HOSTILE = ["a b", "semi;colon", "$(id)", "`id`", "'quote'", '"dq"', "new\nline", "back\\slash", "*", "~",
           "&& touch /tmp/opsnb-pwned", "| cat", "-n", "", "ünïcödé", "$HOME", "a'b\"c"]


def test_hostile_arguments_arrive_verbatim(pool: Pool, sshd_fleet: SshdFleet) -> None:
    with pool.connection(endpoint(sshd_fleet)) as c:
        for arg in HOSTILE:
            r = c.run(["printf", "%s", arg])
            assert (r.exit_status, r.stdout) == (0, arg), arg
    assert not Path("/tmp/opsnb-pwned").exists()


def test_string_command_needs_shell(pool: Pool, sshd_fleet: SshdFleet) -> None:
    with pool.connection(endpoint(sshd_fleet)) as c:
        with pytest.raises(ValidationError, match="shell="):
            c.run("uptime")  # type: ignore[arg-type]
        r = c.run(shell="echo $((6 * 7)) | tr 4 X; exit 3")
        assert (r.exit_status, r.stdout) == (3, "X2\n")


def test_pooled_connection_is_reused(pool: Pool, sshd_fleet: SshdFleet) -> None:
    ep = endpoint(sshd_fleet, 1)
    for _ in range(5):
        with pool.connection(ep) as c:
            assert c.run(["true"]).ok
    assert pool.stats()["handshakes"] == 1
    with pool.connection(ep) as c:
        sock = c.transport.sock
        import socket
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_exit_status_stderr_and_stdin(pool: Pool, sshd_fleet: SshdFleet) -> None:
    with pool.connection(endpoint(sshd_fleet)) as c:
        r = c.run(["sh", "-c", "echo out; echo err >&2; exit 7"])
        assert (r.exit_status, r.stdout, r.stderr) == (7, "out\n", "err\n")
        assert c.run(["cat"], stdin=b"fed\n").stdout == "fed\n"
        assert c.run(["cat"], timeout=5).stdout == ""  # stdin is closed: no hang


def test_hanging_command_is_killed_on_timeout(pool: Pool, sshd_fleet: SshdFleet) -> None:
    srv = sshd_fleet[2]
    with pool.connection(endpoint(sshd_fleet, 2)) as c:
        t0 = time.perf_counter()
        with pytest.raises(CommandTimeout) as ei:
            c.run(["sh", "-c", "echo started; sleep 3600 & sleep 3601; wait"], timeout=0.5)
        assert time.perf_counter() - t0 < 3
        assert ei.value.fields["stdout"] == "started\n"
        # The whole process group is gone, children included; the connection still works.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _sleepers(srv.port):
            time.sleep(0.05)
        assert _sleepers(srv.port) == []
        assert c.run(["echo", "alive"]).stdout == "alive\n"


@pytest.fixture
def test_user_sudo(sshd_fleet: SshdFleet) -> Iterator[None]:
    """As root: a sudoers rule for the fleet's test user, removed afterwards (elsewhere: the user's own)."""
    if not Path("/usr/bin/sudo").exists():
        skip_missing("/usr/bin/sudo (Debian package sudo)")
    rule = Path("/etc/sudoers.d/opsnb-test-user")
    if os.geteuid() != 0 or sshd_fleet.user == getpass.getuser():
        yield
        return
    rule.write_text(f"{sshd_fleet.user} ALL=(root) NOPASSWD: ALL\n")
    rule.chmod(0o440)
    try:
        yield
    finally:
        rule.unlink(missing_ok=True)


def test_sudo_through_real_sudo(pool: Pool, sshd_fleet: SshdFleet, test_user_sudo: None) -> None:
    """``sudo=True`` keeps every argument intact through sudo, and its timeout kills the command."""
    with pool.connection(endpoint(sshd_fleet, 3)) as c:
        probe = c.run(["true"], sudo=True)
        if probe.exit_status != 0:  # a developer's own account; CI logs in as root
            pytest.skip(f"sudo -n asks {sshd_fleet.user} for a password: {probe.stderr.strip()}")
        assert c.run(["id", "-u"]).stdout != "0\n" or sshd_fleet.user == "root"
        r = c.run(shell='echo "$SUDO_USER $(id -u)"', sudo=True)
        assert r.stdout == f"{sshd_fleet.user} 0\n"  # sudo ran it as root: it set SUDO_USER
        assert c.run(["printf", "%s\\n", *HOSTILE], sudo=True).stdout == "".join(f"{a}\n" for a in HOSTILE)
        # Durations no other test uses: a process sudo left behind is re-parented away from
        # sshd, so it is looked for across the whole machine.
        with pytest.raises(CommandTimeout):
            c.run(["sh", "-c", "echo started; sleep 3602 & sleep 3603; wait"], sudo=True, timeout=0.5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and _anywhere(b"sleep\x00360[23]"):
            time.sleep(0.05)
        assert _anywhere(b"sleep\x00360[23]") == []  # sudo, the command and its children: all gone
        assert c.run(["echo", "alive"], sudo=True).stdout == "alive\n"


def _anywhere(cmdline: bytes) -> list[int]:
    """PIDs of every process on the machine whose command line matches (a regex over NUL-joined argv)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if re.match(cmdline, Path(f"/proc/{entry}/cmdline").read_bytes()):
                    out.append(int(entry))
            except OSError:
                continue
    return out


def _sleepers(port: int) -> list[int]:
    out = []
    for pid in ssh_session_pids(port):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"sleep\x00360"):
            out.append(pid)
    return out


def test_huge_output_is_capped_and_drained(pool: Pool, sshd_fleet: SshdFleet) -> None:
    with pool.connection(endpoint(sshd_fleet)) as c:
        r = c.run(["head", "-c", "30000000", "/dev/zero"], max_output=1_000_000, timeout=60)
        assert r.exit_status == 0 and r.truncated and len(r.stdout_bytes) == 1_000_000
        r = c.run(["sh", "-c", "head -c 5000000 /dev/urandom | od -An -tx1 | head -c 8000000"], timeout=60)
        assert r.exit_status == 0 and not r.truncated and len(r.stdout) == 8_000_000


def test_non_utf8_output(pool: Pool, sshd_fleet: SshdFleet) -> None:
    with pool.connection(endpoint(sshd_fleet)) as c:
        r = c.run(["printf", "ok \\377\\376 caf\\303\\251"])
        assert r.stdout_bytes == b"ok \xff\xfe caf\xc3\xa9"
        assert r.stdout == "ok \\xff\\xfe café"


def test_unknown_host_is_refused(sshd_fleet: SshdFleet, tmp_path: Path) -> None:
    p = Pool(SshOptions(known_hosts=tmp_path / "empty_known_hosts", key_file=str(sshd_fleet.client_key)))
    with pytest.raises(HostKeyError, match="unknown host key") as ei:
        p.acquire(endpoint(sshd_fleet))
    assert ei.value.fields["fingerprint"].startswith("SHA256:")
    assert not (tmp_path / "empty_known_hosts").exists()


def test_host_key_mismatch_is_refused_even_with_tofu(sshd_fleet: SshdFleet, tmp_path: Path) -> None:
    other = make_keypair(tmp_path / "other").public_line.split()
    kh = tmp_path / "known_hosts"
    kh.write_text(f"[127.0.0.1]:{sshd_fleet[0].port} {other[0]} {other[1]}\n")
    p = Pool(SshOptions(known_hosts=kh, key_file=str(sshd_fleet.client_key), trust_on_first_use=True))
    with pytest.raises(HostKeyError, match="HOST KEY MISMATCH"):
        p.acquire(endpoint(sshd_fleet))
    assert len(kh.read_text().splitlines()) == 1


def test_trust_on_first_use_records_the_key(sshd_fleet: SshdFleet, tmp_path: Path) -> None:
    seen = []
    kh = tmp_path / "known_hosts"
    p = Pool(SshOptions(known_hosts=kh, key_file=str(sshd_fleet.client_key), trust_on_first_use=True,
                        on_new_host_key=lambda ep, kind, fp: seen.append((ep.name, kind, fp))))
    with p.connection(endpoint(sshd_fleet)) as c:
        assert c.run(["true"]).ok
    assert [s[:2] for s in seen] == [("sshd-0", "ssh-ed25519")]
    assert kh.read_text().split()[:2] == [f"[127.0.0.1]:{sshd_fleet[0].port}", "ssh-ed25519"]
    p.close()
    # Next time the key is known: no second callback.
    p2 = Pool(SshOptions(known_hosts=kh, key_file=str(sshd_fleet.client_key), trust_on_first_use=True,
                         on_new_host_key=lambda *a: seen.append(a)))
    with p2.connection(endpoint(sshd_fleet)):
        pass
    p2.close()
    assert len(seen) == 1


def test_wrong_key_is_an_auth_error(sshd_fleet: SshdFleet, tmp_path: Path) -> None:
    wrong = make_keypair(tmp_path / "wrong_key")
    p = Pool(SshOptions(known_hosts=sshd_fleet.known_hosts, key_file=str(wrong.private_path)))
    with pytest.raises(AuthError, match="no credential was accepted") as ei:
        p.acquire(endpoint(sshd_fleet))
    assert ei.value.fields["user"] == sshd_fleet.user


def test_encrypted_key_needs_named_passphrase(sshd_fleet: SshdFleet, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    key = tmp_path / "enc_key"
    subprocess.run(["cp", str(sshd_fleet.client_key), str(key)], check=True)
    subprocess.run(["ssh-keygen", "-p", "-q", "-f", str(key), "-N", "s3cret-phrase", "-P", ""], check=True)
    p = Pool(SshOptions(known_hosts=sshd_fleet.known_hosts, key_file=str(key)))
    with pytest.raises(AuthError, match="encrypted"):
        p.acquire(endpoint(sshd_fleet))
    monkeypatch.setenv("OPSNB_TEST_PHRASE", "s3cret-phrase")
    p = Pool(SshOptions(known_hosts=sshd_fleet.known_hosts, key_file=str(key), passphrase_env="OPSNB_TEST_PHRASE"))
    with p.connection(endpoint(sshd_fleet)) as c:
        assert c.run(["true"]).ok
    p.close()


def test_dead_port_is_a_connect_error(sshd_fleet: SshdFleet) -> None:
    p = Pool(SshOptions(known_hosts=sshd_fleet.known_hosts, key_file=str(sshd_fleet.client_key)))
    ep = Endpoint("ghost", "127.0.0.1", free_port(), sshd_fleet.user)
    with pytest.raises(ConnectError, match="connection refused") as ei:
        p.acquire(ep)
    assert ei.value.fields["host"] == "ghost"


def test_proxy_jump_through_one_sshd_to_another(pool: Pool, sshd_fleet: SshdFleet) -> None:
    jump = endpoint(sshd_fleet, 0)
    target = endpoint(sshd_fleet, 3, jumps=(jump,))
    with pool.connection(target) as c:
        r = c.run(["sh", "-c", "echo $SSH_CONNECTION"])
        tunnelled = type(c.transport.sock).__name__
    # The target's sshd sees the connection; it reached it through a channel of the jump connection.
    assert r.stdout.split()[3] == str(sshd_fleet[3].port)
    assert tunnelled == "Channel"
    assert pool.stats()["jumps"] == 1


def test_sftp_get_and_put(pool: Pool, sshd_fleet: SshdFleet, tmp_path: Path) -> None:
    src = tmp_path / "up.txt"
    src.write_bytes(b"payload \xff\n")
    with pool.connection(endpoint(sshd_fleet)) as c:
        remote = c.run(["mktemp", "-d"]).stdout.strip() + "/up.txt"
        c.put(src, remote)
        assert c.run(["cat", remote]).stdout_bytes == b"payload \xff\n"
        got = c.get(remote, tmp_path / "down" / "copy.txt")
        assert got.read_bytes() == b"payload \xff\n"
        from opsnb.errors import RemoteError
        with pytest.raises(RemoteError, match="no such remote file"):
            c.get("/nonexistent/file", tmp_path / "x")
        assert not (tmp_path / "x").exists()
