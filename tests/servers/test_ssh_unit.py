"""SSH client logic against the in-process paramiko fake (no sshd needed)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

from opsnb.errors import CommandTimeout, ConnectError, ValidationError
from opsnb.servers.commands import Endpoint, build_command, check_credential, parse_jump, quote_argv
from opsnb.servers.pool import Pool
from opsnb.servers.ssh import SshOptions
from opsnb.testing import FakeCommand, FakeSshServer

PREFIX = "printf '%s\\n' \"$$\"; "


def fake_pool(srv: FakeSshServer, **kw: object) -> Pool:
    return Pool(SshOptions(known_hosts=srv.known_hosts, key_file=str(srv.client_key), **kw))  # type: ignore[arg-type]


def ep(srv: FakeSshServer) -> Endpoint:
    return Endpoint("fake", "127.0.0.1", srv.port, srv.user)


@pytest.mark.parametrize("argv", [
    ["echo", "a; reboot"], ["rm", "-rf", "$(echo /)"], ["x", "`id`", "'", '"', "\n", "", "&&", "|", ">f"],
    ["cat", "ünï"], ["printf", "%s\\n", "a\tb"],
])
def test_the_server_receives_exactly_the_quoted_arguments(fake_sshd: FakeSshServer, argv: list[str]) -> None:
    pool = fake_pool(fake_sshd)
    with pool.connection(ep(fake_sshd)) as c:
        c.run(argv)
    sent = fake_sshd.commands[-1]
    assert sent.startswith(PREFIX)
    assert shlex.split(sent[len(PREFIX):]) == ["exec", *argv]  # one command, same words: nothing injected
    pool.close()


def test_build_command_rules() -> None:
    assert build_command(["ls", "-l", "a b"]) == "ls -l 'a b'"
    assert build_command(["id"], sudo=True) == "sudo -n -- id"
    assert build_command(shell="a | b", sudo=True) == "sudo -n -- sh -c 'a | b'"
    for bad in ("ls -l", b"ls", [], ["a\x00b"], [None], [["nested"]], [True]):
        with pytest.raises(ValidationError):
            quote_argv(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="exactly one"):
        build_command(["a"], shell="b")
    with pytest.raises(ValidationError, match="exactly one"):
        build_command()
    with pytest.raises(ValidationError):
        build_command(shell="  ")


def test_credential_references_never_secrets() -> None:
    for ok in ("", "agent", "key:~/.ssh/id", "password-env:DB_PW", "password-file:/run/secrets/pw"):
        assert check_credential(ok) == ok
    for bad in ("hunter2", "key:", "password:abc", "key:-----BEGIN OPENSSH PRIVATE KEY-----"):
        with pytest.raises(ValidationError):
            check_credential(bad)


def test_parse_jump() -> None:
    assert parse_jump("bastion") == [(None, "bastion", None)]
    assert parse_jump("ops@jump1:2222,[::1]:22") == [("ops", "jump1", 2222), (None, "::1", 22)]
    for bad in ("", "a b", "host:99999", "u@@h"):
        with pytest.raises(ValidationError):
            parse_jump(bad)


def test_dropped_handshakes_are_retried(tmp_path: Path) -> None:
    with FakeSshServer(tmp_path / "f", drop_first=3) as srv:
        pool = fake_pool(srv)
        with pool.connection(ep(srv)) as c:
            assert c.run(["true"]).exit_status == 0
        assert srv.connections == 4
        pool.close()


def test_retries_give_up_with_a_clear_error(tmp_path: Path) -> None:
    with FakeSshServer(tmp_path / "f", drop_first=100) as srv:
        pool = fake_pool(srv, handshake_retries=2)
        with pytest.raises(ConnectError, match="handshake failed"):
            pool.acquire(ep(srv))
        assert srv.connections == 3


def test_timeout_against_fake(tmp_path: Path) -> None:
    with FakeSshServer(tmp_path / "f", handler=lambda cmd: FakeCommand(0, b"late", delay=30)) as srv:
        pool = fake_pool(srv)
        with pool.connection(ep(srv)) as c:
            t0 = time.perf_counter()
            with pytest.raises(CommandTimeout):
                c.run(["sleep", "30"], timeout=0.3)
            assert time.perf_counter() - t0 < 2
        pool.close()


def test_exit_status_and_streams_from_fake(tmp_path: Path) -> None:
    def handler(cmd: str) -> FakeCommand:
        return FakeCommand(3, b"12345\nout", b"err")

    with FakeSshServer(tmp_path / "f", handler=handler) as srv:
        pool = fake_pool(srv)
        with pool.connection(ep(srv)) as c:
            r = c.run(["x"])
        assert (r.exit_status, r.stdout, r.stderr) == (3, "out", "err")  # first line is the PID line
        pool.close()
