"""Inventory files: import Ansible inventories (INI and YAML) and ``~/.ssh/config``; export YAML.

Parsers return an :class:`InventoryFile`: the servers found (plain dicts with the
:class:`~opsnb.servers.models.Server` fields), every problem with its line, and
warnings (e.g. a password variable that was dropped: secrets are never imported).

Mapping from Ansible:

* ``ansible_host``/``ansible_port``/``ansible_user`` -> address/port/user;
  ``ansible_ssh_private_key_file`` -> credential ``key:PATH``; ``-J X`` or
  ``-o ProxyJump=X`` in ``ansible_ssh_common_args`` -> proxy_jump; ``opsnb_credential``
  -> credential; ``platform`` -> platform.
* Groups (except ``all``/``ungrouped``) -> the ``groups`` label (comma separated),
  selected with ``group=NAME``; other variables -> labels (group vars first, host vars win).
* ``ansible_password``, ``ansible_become_pass`` and anything named like a secret are dropped.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsnb.bounded import load_yaml
from opsnb.errors import ParseError, ValidationError
from opsnb.redact import is_secret_key
from opsnb.servers.selectors import GROUPS_LABEL

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_HOSTS = 100_000
_SPECIAL = {"all", "ungrouped"}
_SECRET_VARS = {"ansible_password", "ansible_ssh_pass", "ansible_become_pass", "ansible_become_password",
                "ansible_sudo_pass", "ansible_ssh_password"}
# Named like secrets, but they hold where a secret is (a path or a reference), not the secret.
_REFERENCE_VARS = {"ansible_ssh_private_key_file", "ansible_private_key_file", "opsnb_credential"}


@dataclass
class InventoryFile:
    """What a parser found in one file."""

    source: str
    servers: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[int | None, str]] = field(default_factory=list)  # (line, message)
    warnings: list[str] = field(default_factory=list)

    def problem(self, line: int | None, message: str) -> None:
        self.problems.append((line, message))

    def raise_if_problems(self) -> None:
        if self.problems:
            first = self.problems[0][0]
            raise ParseError(
                f"{self.source}: {len(self.problems)} problem(s):",
                [f"line {ln}: {msg}" if ln else msg for ln, msg in self.problems],
                source=self.source, line=first)


def _read(path: str | os.PathLike[str]) -> str:
    p = Path(path).expanduser()
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ValidationError(f"{p} is {size} bytes; inventories are limited to {MAX_FILE_BYTES}",
                                  field="path", value=str(p))
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{p} is not UTF-8 text: {exc.reason} at byte {exc.start}", source=str(p)) from None
    except OSError as exc:
        raise ValidationError(f"cannot read {p}: {exc.strerror}", field="path", value=str(p)) from None


# --------------------------------------------------------------------------- host patterns

_RANGE = re.compile(r"\[([^\[\]:]+):([^\[\]:]+)(?::(\d+))?\]")


def expand_hosts(pattern: str) -> list[str]:
    """Expand Ansible ranges: ``web[01:03]`` -> web01, web02, web03; ``db-[a:c]`` -> db-a, db-b, db-c.

    Raises:
        ValueError: a bad range, or more than MAX_HOSTS names.
    """
    m = _RANGE.search(pattern)
    if m is None:
        if "[" in pattern or "]" in pattern:
            raise ValueError(f"bad host range in {pattern!r}")
        return [pattern]
    start, end, stride = m.group(1), m.group(2), int(m.group(3) or 1)
    if stride < 1:
        raise ValueError(f"bad stride in {pattern!r}")
    if start.isdigit() and end.isdigit():
        a, b = int(start), int(end)
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        items = [str(i).zfill(width) for i in range(a, b + 1, stride)] if b - a < MAX_HOSTS * stride else None
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters and end in string.ascii_letters:
        items = [chr(c) for c in range(ord(start), ord(end) + 1, stride)]
    else:
        raise ValueError(f"bad host range [{start}:{end}] in {pattern!r}")
    if items is None or len(items) > MAX_HOSTS:
        raise ValueError(f"host range in {pattern!r} expands to more than {MAX_HOSTS} hosts")
    if not items:
        raise ValueError(f"empty host range [{start}:{end}] in {pattern!r}")
    out: list[str] = []
    for it in items:
        out += expand_hosts(pattern[: m.start()] + it + pattern[m.end():])
        if len(out) > MAX_HOSTS:
            raise ValueError(f"host pattern {pattern!r} expands to more than {MAX_HOSTS} hosts")
    return out


# --------------------------------------------------------------------------- ansible model

@dataclass
class _Group:
    name: str
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)  # host -> host vars
    vars: dict[str, Any] = field(default_factory=dict)
    children: list[str] = field(default_factory=list)


def _scalar(v: str) -> str:
    v = v.strip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        return v[1:-1]
    return v


def _jump_from_args(args: str) -> str:
    try:
        parts = shlex.split(args)
    except ValueError:
        return ""
    for i, p in enumerate(parts):
        if p == "-J" and i + 1 < len(parts):
            return parts[i + 1]
        if p.startswith("-J") and len(p) > 2:
            return p[2:]
        opt = parts[i + 1] if p == "-o" and i + 1 < len(parts) else (p[2:] if p.startswith("-o") else "")
        if opt.lower().startswith("proxyjump"):
            return re.split(r"[=\s]", opt, maxsplit=1)[1].strip() if re.search(r"[=\s]", opt) else ""
    return ""


def _server_from_vars(name: str, vars_: dict[str, Any], groups: list[str], inv: InventoryFile,
                      line: int | None) -> dict[str, Any] | None:
    srv: dict[str, Any] = {"name": name, "address": name, "port": 22, "user": "", "labels": {},
                           "platform": "", "credential": "", "proxy_jump": ""}
    for k, v in vars_.items():
        key = str(k)
        if key in _SECRET_VARS or (is_secret_key(key) and key not in _REFERENCE_VARS):
            inv.warnings.append(f"{name}: dropped secret variable {key} (secrets are never imported)")
            continue
        if isinstance(v, dict | list):
            inv.warnings.append(f"{name}: dropped variable {key}: only scalar values become labels")
            continue
        sval = "" if v is None else str(v)
        if key in ("ansible_host", "ansible_ssh_host"):
            srv["address"] = sval
        elif key in ("ansible_port", "ansible_ssh_port"):
            try:
                port = int(sval)
                if not 0 < port < 65536:
                    raise ValueError
                srv["port"] = port
            except ValueError:
                inv.problem(line, f"host {name}: bad port {sval!r}")
                return None
        elif key in ("ansible_user", "ansible_ssh_user"):
            srv["user"] = sval
        elif key in ("ansible_ssh_private_key_file", "ansible_private_key_file"):
            srv["credential"] = f"key:{sval}"
        elif key == "opsnb_credential":
            srv["credential"] = sval
        elif key == "ansible_ssh_common_args":
            srv["proxy_jump"] = _jump_from_args(sval) or srv["proxy_jump"]
        elif key == "platform":
            srv["platform"] = sval
        elif key.startswith("ansible_"):
            continue  # connection tuning we do not model
        else:
            srv["labels"][key] = sval
    real = sorted(g for g in groups if g not in _SPECIAL)
    if real:
        srv["labels"][GROUPS_LABEL] = ",".join(real)
    if not srv["address"]:
        inv.problem(line, f"host {name}: empty address")
        return None
    return srv


def _flatten(groups: dict[str, _Group], host_lines: dict[str, int], inv: InventoryFile) -> None:
    """Resolve group membership through children and merge vars as ``ansible-inventory`` does.

    A host's groups (its own and every ancestor, ``all`` included) are merged in Ansible's order:
    by depth (``all`` 0, its children 1, ...), then ``ansible_group_priority`` (higher wins),
    then name; host variables win over every group's.
    """
    parents: dict[str, set[str]] = {g: set() for g in groups}
    for g in list(groups.values()):  # a child named only under [x:children] is created here
        for c in g.children:
            if c not in groups:
                groups[c] = _Group(c)
                parents[c] = set()
            parents[c].add(g.name)
    for name, ps in parents.items():
        if name != "all" and not ps:
            ps.add("all")  # every top-level group is a child of all
    groups.setdefault("all", _Group("all"))
    parents.setdefault("all", set())

    depth_memo: dict[str, int] = {}

    def depth(name: str, seen: tuple[str, ...] = ()) -> int:
        if name == "all":
            return 0
        if name in depth_memo:
            return depth_memo[name]
        if name in seen:
            inv.problem(None, f"group {name} is its own ancestor: {' -> '.join((*seen, name))}")
            return 0
        d = 1 + max((depth(p, (*seen, name)) for p in parents.get(name, ())), default=0)
        depth_memo[name] = d
        return d

    def ancestors(name: str) -> set[str]:
        out, todo = set(), [name]
        while todo:
            g = todo.pop()
            if g in out:
                continue
            out.add(g)
            todo.extend(parents.get(g, ()))
        return out

    def priority(name: str) -> int:
        try:
            return int(groups[name].vars.get("ansible_group_priority", 1))
        except (TypeError, ValueError):
            inv.problem(None, f"group {name}: ansible_group_priority must be an integer")
            return 1

    hosts: dict[str, tuple[list[str], dict[str, Any]]] = {}
    order: list[str] = []
    for g in groups.values():
        for h, hv in g.hosts.items():
            if h not in hosts:
                hosts[h] = ([], {})
                order.append(h)
            hosts[h][0].append(g.name)
            hosts[h][1].update(hv)
    for h in order:
        member, hvars = hosts[h]
        chain: set[str] = set()
        for gname in member:
            chain |= ancestors(gname)
        ordered = sorted(chain, key=lambda g: (depth(g), priority(g), g))
        merged: dict[str, Any] = {}
        for gname in ordered:
            merged.update({k: v for k, v in groups[gname].vars.items() if k != "ansible_group_priority"})
        merged.update(hvars)
        srv = _server_from_vars(h, merged, ordered, inv, host_lines.get(h))
        if srv is not None:
            inv.servers.append(srv)


_HOST_PORT = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+|[^:]*\[[^\]]+\][^:]*)):(?P<port>\d{1,5})$")


def split_host_port(pattern: str) -> tuple[str, int | None]:
    """``host:port`` (``[ipv6]:port`` for IPv6) as Ansible reads it; a bare IPv6 address has no port."""
    m = _HOST_PORT.match(pattern)
    if m is None:
        return pattern, None
    return (m.group("v6") or m.group("host")), int(m.group("port"))


def _host_entries(pattern: str) -> list[tuple[str, dict[str, Any]]]:
    """Host names of an inventory pattern with the variables the pattern itself sets (a ``:port``)."""
    name, port = split_host_port(pattern)
    extra: dict[str, Any] = {} if port is None else {"ansible_port": port}
    return [(h, dict(extra)) for h in expand_hosts(name)]


def parse_ansible_ini(text: str, source: str = "<ini>") -> InventoryFile:
    """Parse an Ansible INI inventory (groups, ``:vars``, ``:children``, host ranges, host vars)."""
    inv = InventoryFile(source)
    groups: dict[str, _Group] = {"ungrouped": _Group("ungrouped")}
    host_lines: dict[str, int] = {}
    section, kind = "ungrouped", "hosts"
    count = 0
    declared: set[str] = {"all", "ungrouped"}
    vars_lines: dict[str, int] = {}
    child_lines: dict[str, tuple[int, str]] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[([A-Za-z0-9_.\-]+)(?::(vars|children))?\]", line)
            if m is None:
                inv.problem(n, f"bad section header {line!r}")
                section, kind = "", "skip"
                continue
            section, kind = m.group(1), m.group(2) or "hosts"
            groups.setdefault(section, _Group(section))
            if kind != "vars":  # [g] and [g:children] declare g; [g:vars] alone does not
                declared.add(section)
            else:
                vars_lines.setdefault(section, n)
            continue
        if kind == "skip":
            continue
        if kind == "vars":
            k, eq, v = line.partition("=")
            if not eq or not k.strip():
                inv.problem(n, f"[{section}:vars] expects key=value, got {line!r}")
                continue
            groups[section].vars[k.strip()] = _scalar(v)
        elif kind == "children":
            child = line.split()[0]
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", child):
                inv.problem(n, f"bad child group name {child!r}")
                continue
            groups[section].children.append(child)
            child_lines.setdefault(child, (n, section))
        else:
            try:
                parts = shlex.split(line, comments=True)
            except ValueError as exc:
                inv.problem(n, f"cannot split {line!r}: {exc}")
                continue
            semi = next((i for i, p in enumerate(parts) if p.startswith(";")), None)
            parts = parts[:semi]  # "; comment" after the host variables
            if not parts:
                continue
            try:
                entries = _host_entries(parts[0])
            except ValueError as exc:
                inv.problem(n, str(exc))
                continue
            hv: dict[str, Any] = {}
            bad = [p for p in parts[1:] if "=" not in p]
            if bad:
                inv.problem(n, f"host variables must be key=value, got {' '.join(bad)!r}")
                continue
            for p in parts[1:]:
                k, _, v = p.partition("=")
                hv[k] = v
            count += len(entries)
            if count > MAX_HOSTS:
                inv.problem(n, f"more than {MAX_HOSTS} hosts")
                break
            for h, pv in entries:
                if not re.fullmatch(r"[A-Za-z0-9_.\-:]+", h):
                    inv.problem(n, f"bad host name {h!r}")
                    continue
                groups[section].hosts.setdefault(h, {}).update({**pv, **hv})
                host_lines.setdefault(h, n)
    # as ansible-inventory: a group named only under [x:children] or [x:vars] is an error, not a new group
    for child, (n, parent) in sorted(child_lines.items(), key=lambda kv: kv[1]):
        if child not in declared:
            inv.problem(n, f"section [{parent}:children] includes undefined group: {child}")
    for g, n in sorted(vars_lines.items(), key=lambda kv: kv[1]):
        if g not in declared:
            inv.problem(n, f"section [{g}:vars] is for an undefined group: {g}")
    _flatten(groups, host_lines, inv)
    return inv


def parse_ansible_yaml(text: str, source: str = "<yaml>") -> InventoryFile:
    """Parse an Ansible YAML inventory (``all: {hosts, vars, children}``, nested groups)."""
    inv = InventoryFile(source)
    data = load_yaml(text, source=source)  # safe loader, with size, depth and alias limits
    if data is None:
        return inv
    if not isinstance(data, dict):
        raise ParseError(f"{source}: an Ansible YAML inventory is a mapping of groups, got {type(data).__name__}",
                         source=source)
    groups: dict[str, _Group] = {}
    count = 0

    def walk(name: str, body: Any, depth: int) -> None:
        nonlocal count
        if depth > 50:
            inv.problem(None, f"group {name}: nested too deeply")
            return
        g = groups.setdefault(name, _Group(name))
        if body is None:
            return
        if not isinstance(body, dict):
            inv.problem(None, f"group {name}: expected a mapping with hosts/vars/children")
            return
        unknown = set(body) - {"hosts", "vars", "children"}
        if unknown:
            inv.problem(None, f"group {name}: unknown keys {sorted(map(str, unknown))}")
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            inv.problem(None, f"group {name}: hosts must be a mapping")
            hosts = {}
        for pattern, hv in hosts.items():
            try:
                entries = _host_entries(str(pattern))
            except ValueError as exc:
                inv.problem(None, f"group {name}: {exc}")
                continue
            if hv is not None and not isinstance(hv, dict):
                inv.problem(None, f"host {pattern}: variables must be a mapping")
                continue
            count += len(entries)
            if count > MAX_HOSTS:
                inv.problem(None, f"more than {MAX_HOSTS} hosts")
                return
            for h, pv in entries:
                g.hosts.setdefault(h, {}).update({**pv, **(hv or {})})
        vars_ = body.get("vars") or {}
        if not isinstance(vars_, dict):
            inv.problem(None, f"group {name}: vars must be a mapping")
        else:
            g.vars.update(vars_)
        children = body.get("children") or {}
        if not isinstance(children, dict):
            inv.problem(None, f"group {name}: children must be a mapping")
            return
        for child, cbody in children.items():
            if str(child) not in g.children:
                g.children.append(str(child))
            walk(str(child), cbody, depth + 1)

    for name, body in data.items():
        walk(str(name), body, 0)
    _flatten(groups, {}, inv)
    return inv


def parse_ansible(path: str | os.PathLike[str]) -> InventoryFile:
    """Parse an Ansible inventory file, INI or YAML (by extension, else by content)."""
    text = _read(path)
    src = str(path)
    if Path(path).suffix.lower() in (".yml", ".yaml", ".json"):
        return parse_ansible_yaml(text, src)
    if Path(path).suffix.lower() in (".ini", ".cfg", ".hosts"):
        return parse_ansible_ini(text, src)
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")), "")
    if first.startswith("[") or ("=" in first and ":" not in first.split("=")[0]):
        return parse_ansible_ini(text, src)
    if re.match(r"^[A-Za-z0-9_.\-]+:\s*$", first) or first.startswith("{") or first.startswith("---"):
        return parse_ansible_yaml(text, src)
    return parse_ansible_ini(text, src)


# --------------------------------------------------------------------------- ssh config

_SSH_KEYS = {"hostname", "user", "port", "identityfile", "proxyjump"}


def _ssh_lines(path: Path, depth: int, inv: InventoryFile) -> Iterable[tuple[str, int, str, list[str]]]:
    if depth > 16:
        inv.problem(None, f"{path}: Include nested too deeply")
        return
    text = _read(path)
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$", line)
        if m is None:
            inv.problem(n, f"{path.name}: cannot read {line!r}")
            continue
        key, rest = m.group(1).lower(), m.group(2).strip()
        try:
            args = shlex.split(rest, comments=True)
        except ValueError as exc:
            inv.problem(n, f"{path.name}: {exc} in {line!r}")
            continue
        if key == "include":
            for pat in args:
                full = os.path.expanduser(pat)
                if not os.path.isabs(full):
                    full = str(Path("~/.ssh").expanduser() / full) if path.parent == Path(
                        "~/.ssh").expanduser() else str(path.parent / full)
                for inc in sorted(glob.glob(full)):
                    yield from _ssh_lines(Path(inc), depth + 1, inv)
            continue
        yield str(path), n, key, args


def parse_ssh_config(path: str | os.PathLike[str]) -> InventoryFile:
    """Import the concrete ``Host`` aliases of an OpenSSH client config.

    Follows OpenSSH's rule that the first value obtained for a keyword wins, with
    ``Host *``-style pattern blocks supplying defaults. ``Match`` blocks are skipped
    (reported as warnings); wildcard and negated patterns are not servers.
    """
    p = Path(path).expanduser()
    inv = InventoryFile(str(p))
    blocks: list[tuple[list[str], list[tuple[int, str, list[str]]]]] = [(["*"], [])]
    skipping = False
    for _src, n, key, args in list(_ssh_lines(p, 0, inv)):
        if key == "host":
            if not args:
                inv.problem(n, "Host needs at least one pattern")
                skipping = True
                continue
            blocks.append((args, []))
            skipping = False
        elif key == "match":
            inv.warnings.append(f"line {n}: Match blocks are not supported; skipped")
            skipping = True
        elif not skipping:
            blocks[-1][1].append((n, key, args))
    aliases: list[str] = []
    for pats, _ in blocks[1:]:
        for a in pats:
            if not any(c in a for c in "*?!") and a not in aliases:
                aliases.append(a)

    def matches(alias: str, pats: list[str]) -> bool:
        import fnmatch

        hit = False
        for pat in pats:
            if pat.startswith("!"):
                if fnmatch.fnmatchcase(alias, pat[1:]):
                    return False
            elif fnmatch.fnmatchcase(alias, pat):
                hit = True
        return hit

    for alias in aliases:
        opts: dict[str, tuple[int, str]] = {}
        for pats, lines in blocks:
            if not matches(alias, pats):
                continue
            for n, key, args in lines:
                if key in _SSH_KEYS and key not in opts and args:
                    opts[key] = (n, args[0])
        line = opts.get("hostname", (None, ""))[0]
        hostname = opts.get("hostname", (0, alias))[1].replace("%h", alias).replace("%%", "%")
        srv: dict[str, Any] = {"name": alias, "address": hostname, "port": 22, "user": opts.get("user", (0, ""))[1],
                               "labels": {}, "platform": "", "credential": "", "proxy_jump": ""}
        if "port" in opts:
            try:
                srv["port"] = int(opts["port"][1])
                if not 0 < srv["port"] < 65536:
                    raise ValueError
            except ValueError:
                inv.problem(opts["port"][0], f"Host {alias}: bad Port {opts['port'][1]!r}")
                continue
        if "identityfile" in opts:
            ident = opts["identityfile"][1]
            if ident.lower() != "none":
                srv["credential"] = "key:" + ident.replace("%d", "~").replace("%h", alias)
        if "proxyjump" in opts and opts["proxyjump"][1].lower() != "none":
            srv["proxy_jump"] = opts["proxyjump"][1]
        if not srv["address"]:
            inv.problem(line, f"Host {alias}: empty HostName")
            continue
        inv.servers.append(srv)
    return inv


# --------------------------------------------------------------------------- export

def to_ansible_yaml(servers: Iterable[Any]) -> str:
    """Render servers as an Ansible YAML inventory (importable again with :func:`parse_ansible_yaml`)."""
    hosts: dict[str, dict[str, Any]] = {}
    children: dict[str, dict[str, Any]] = {}
    for s in servers:
        hv: dict[str, Any] = {"ansible_host": s.address, "ansible_port": int(s.port)}
        if s.user:
            hv["ansible_user"] = s.user
        if s.credential.startswith("key:"):
            hv["ansible_ssh_private_key_file"] = s.credential[4:]
        elif s.credential:
            hv["opsnb_credential"] = s.credential
        if s.proxy_jump:
            hv["ansible_ssh_common_args"] = f"-o ProxyJump={s.proxy_jump}"
        if s.platform:
            hv["platform"] = s.platform
        for k, v in sorted(s.labels.items()):
            if k == GROUPS_LABEL:
                for g in filter(None, v.split(",")):
                    children.setdefault(g, {"hosts": {}})["hosts"][s.name] = None
            else:
                hv[k] = v
        hosts[s.name] = hv
    doc: dict[str, Any] = {"all": {"hosts": hosts}}
    if children:
        doc["all"]["children"] = dict(sorted(children.items()))
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, allow_unicode=True)
