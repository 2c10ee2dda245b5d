from __future__ import annotations

from pathlib import Path

import pytest

from opsnb.errors import ParseError, ValidationError
from opsnb.servers.inventory import (
    expand_hosts,
    parse_ansible,
    parse_ansible_ini,
    parse_ansible_yaml,
    parse_ssh_config,
    to_ansible_yaml,
)
from opsnb.servers.models import Server

INI = """
# production
bastion ansible_host=203.0.113.10 ansible_user=jump

[web]
web[01:03].example.com ansible_user=deploy role=web
web-canary ansible_host=10.0.0.99 ansible_port=2222 canary=true ; trailing comment

[db]
db-1 ansible_host=10.0.1.1 ansible_ssh_private_key_file=~/.ssh/db_key ansible_password=hunter2

[prod:children]
web
db

[prod:vars]
env=prod
region="eu-west-1"

[db:vars]
role=db
ansible_ssh_common_args='-o ProxyJump=bastion'
"""


def by_name(servers: list[dict]) -> dict[str, dict]:
    return {s["name"]: s for s in servers}


def test_ini_groups_vars_ranges_and_secrets_dropped() -> None:
    inv = parse_ansible_ini(INI, "prod.ini")
    assert inv.problems == []
    s = by_name(inv.servers)
    assert sorted(s) == ["bastion", "db-1", "web-canary", "web01.example.com", "web02.example.com",
                         "web03.example.com"]
    web = s["web02.example.com"]
    assert (web["address"], web["user"], web["port"]) == ("web02.example.com", "deploy", 22)
    assert web["labels"] == {"role": "web", "env": "prod", "region": "eu-west-1", "groups": "prod,web"}
    canary = s["web-canary"]
    assert (canary["address"], canary["port"], canary["labels"]["canary"]) == ("10.0.0.99", 2222, "true")
    db = s["db-1"]
    assert db["credential"] == "key:~/.ssh/db_key"
    assert db["proxy_jump"] == "bastion"
    assert db["labels"]["role"] == "db" and "ansible_password" not in db["labels"]
    assert "hunter2" not in repr(inv.servers)
    assert any("ansible_password" in w for w in inv.warnings)
    assert s["bastion"]["labels"] == {}  # ungrouped: no groups label


def test_ini_problems_are_collected_with_lines() -> None:
    bad = "[web]\nweb-1 ansible_port=99999\nweb[5:1]\nweb-2 stray\nok-1 role=x\n[bad header\nskipped-1\n"
    inv = parse_ansible_ini(bad, "bad.ini")
    lines = sorted(ln for ln, _ in inv.problems if ln)
    assert lines == [2, 3, 4, 6]
    assert [s["name"] for s in inv.servers] == ["ok-1"]  # good data around the bad is kept
    with pytest.raises(ParseError) as ei:
        inv.raise_if_problems()
    assert "line 2" in str(ei.value) and ei.value.fields["source"] == "bad.ini"


def test_host_ranges() -> None:
    assert expand_hosts("web[01:03]") == ["web01", "web02", "web03"]
    assert expand_hosts("db-[a:c]") == ["db-a", "db-b", "db-c"]
    assert expand_hosts("n[0:10:5]") == ["n0", "n5", "n10"]
    assert expand_hosts("r[1:2]-h[1:2]") == ["r1-h1", "r1-h2", "r2-h1", "r2-h2"]
    with pytest.raises(ValueError, match="more than"):
        expand_hosts("huge[0:999999999]")
    with pytest.raises(ValueError):
        expand_hosts("bad[1:x]")


YAML = """
all:
  vars:
    env: prod
  hosts:
    lb-1:
      ansible_host: 10.0.2.1
  children:
    web:
      vars: {role: web}
      hosts:
        web-[1:2]:
          ansible_user: deploy
    db:
      hosts:
        db-1: {ansible_port: 2200, ansible_become_pass: s3cret, tier: gold}
"""


def test_yaml_inventory() -> None:
    inv = parse_ansible_yaml(YAML, "prod.yml")
    assert inv.problems == []
    s = by_name(inv.servers)
    assert sorted(s) == ["db-1", "lb-1", "web-1", "web-2"]
    assert s["web-2"]["labels"] == {"env": "prod", "role": "web", "groups": "web"}
    assert s["db-1"]["port"] == 2200 and s["db-1"]["labels"]["tier"] == "gold"
    assert "s3cret" not in repr(inv.servers)


@pytest.mark.parametrize("text", ["- a\n- b\n", "all: [1, 2]\n", "all:\n  hosts: [x]\n", "a: {b: c\n"])
def test_yaml_malformed(text: str) -> None:
    try:
        inv = parse_ansible_yaml(text, "x.yml")
    except ParseError as exc:
        assert exc.fields["source"] == "x.yml"
        return
    assert inv.problems


def test_export_round_trips(tmp_path: Path) -> None:
    servers = [
        Server("web-1", "10.0.0.1", 22, "deploy", {"role": "web", "groups": "front,prod", "n": "1"}, "debian-12",
               "key:~/.ssh/k", ""),
        Server("db-1", "10.0.0.2", 2222, "", {"role": "db"}, "", "agent", "bastion"),
    ]
    text = to_ansible_yaml(servers)
    p = tmp_path / "out.yml"
    p.write_text(text)
    inv = parse_ansible(p)
    assert inv.problems == []
    again = sorted((Server(**s) for s in inv.servers), key=lambda s: s.name)
    assert again == sorted(servers, key=lambda s: s.name)


SSH_CONFIG = """
Host bastion
    HostName 203.0.113.10
    User jump
    IdentityFile ~/.ssh/jump_ed25519

Host web-* db-1 !web-skip
    User deploy
    ProxyJump bastion

Host db-1
    HostName 10.0.1.1
    Port 2222
    User ignored-because-first-wins

Match host foo
    User matched

Host *.internal
    Port=2200

Host app.internal
    HostName %h
    IdentityFile none

Host *
    User fallback
"""


def test_ssh_config(tmp_path: Path) -> None:
    p = tmp_path / "config"
    p.write_text(SSH_CONFIG)
    inv = parse_ssh_config(p)
    assert inv.problems == []
    s = by_name(inv.servers)
    assert sorted(s) == ["app.internal", "bastion", "db-1"]
    assert (s["bastion"]["address"], s["bastion"]["user"], s["bastion"]["credential"]) == \
        ("203.0.113.10", "jump", "key:~/.ssh/jump_ed25519")
    assert (s["db-1"]["address"], s["db-1"]["port"], s["db-1"]["user"], s["db-1"]["proxy_jump"]) == \
        ("10.0.1.1", 2222, "deploy", "bastion")
    assert (s["app.internal"]["address"], s["app.internal"]["port"], s["app.internal"]["user"],
            s["app.internal"]["credential"]) == ("app.internal", 2200, "fallback", "")
    assert any("Match" in w for w in inv.warnings)


def test_ssh_config_include_and_bad_port(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("Host inc-1\n  HostName 10.9.9.9\nHost bad\n  Port eighty\n")
    p = tmp_path / "config"
    p.write_text(f"Include {tmp_path}/conf.d/*.conf\n")
    inv = parse_ssh_config(p)
    assert [s["name"] for s in inv.servers] == ["inc-1"]
    assert inv.problems and "eighty" in inv.problems[0][1]


def test_unreadable_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read"):
        parse_ansible(tmp_path / "missing.ini")
    b = tmp_path / "bin.ini"
    b.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ParseError, match="not UTF-8"):
        parse_ansible(b)
