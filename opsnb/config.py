"""Settings: one table of every setting, read from layered sources.

Precedence, lowest first: defaults < ``opsnb.toml`` < ``OPSNB_*`` environment
< keyword arguments. The table below is the single source of truth: the README's
settings section is checked against it by a test, and ``opsnb config`` prints it.

``opsnb.toml`` is read from ``$OPSNB_CONFIG`` when set, else from the workspace
directory. The workspace itself is therefore chosen only by ``--workspace``,
``OPSNB_WORKSPACE`` or the keyword argument, never from the file it locates.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opsnb.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    """One row of the settings table."""

    name: str
    default: Any
    help: str
    type: type = str
    secret: bool = False

    @property
    def env(self) -> str:
        return "OPSNB_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("workspace", "./data/workspace", "Directory holding state.db, the event lake and run outputs."),
    Setting("database_url", "", "SQLAlchemy URL of the state database; empty means SQLite in the workspace.", secret=True),
    Setting("user", "", "Who is acting; empty means JUPYTERHUB_USER, else the OS user."),
    Setting("default_role", "viewer", "Role of a user who was never granted one (viewer, responder, operator, admin)."),
    Setting("sqlite_busy_timeout_ms", 30000, "How long SQLite waits for a lock before failing, in ms.", int),
    Setting("audit_anchor_file", "audit-anchors.jsonl",
            "Append-only file of audit chain checkpoints that 'opsnb audit verify' compares against; relative "
            "to the workspace or absolute (put it on other storage than the database)."),
    Setting("audit_anchor_interval", "1h", "How often the scheduler checkpoints the audit chain head (a duration)."),
    Setting("lake_compact_min_segments", 8, "Compact a closed day once it has at least this many segments.", int),
    Setting("retention_days", 30, "Days of events kept in the lake; older day partitions are deleted.", int),
    Setting("ingest_max_decompressed_bytes", 1 << 40,
            "Largest decompressed size of one compressed log source; past it the source stops with an error.", int),
    Setting("ingest_max_compression_ratio", 200.0,
            "Decompressed bytes per compressed byte a log source may reach (past 64 MiB); a bomb stops there.", float),
    Setting("ingest_batch_rows", 250_000,
            "Rows of one log source collected before they are written and its checkpoint committed.", int),
    Setting("ingest_chunk_bytes", 16 << 20, "Bytes of a log source parsed at once (whole lines).", int),
    Setting("runbooks_dir", "runbooks", "Directory of runbook notebooks, relative to the current directory.", str),
    Setting("dashboards_dir", "dashboards", "Directory of dashboard notebooks served by Voila.", str),
    Setting("notebooks_dir", "notebooks", "Directory of exploration notebooks and templates.", str),
    Setting("executor", "local", "Runbook executor: 'local' (thread pool) or 'dask://host:port'."),
    Setting("executor_workers", 2, "Runbook runs executed at once by the local executor.", int),
    Setting("known_hosts", "~/.ssh/known_hosts", "known_hosts file SSH host keys are verified against."),
    Setting("ssh_trust_on_first_use", False, "Accept and record unknown SSH host keys (audited).", bool),
    Setting("ssh_key_file", "", "Private key file for SSH; empty means ssh-agent and default keys."),
    Setting("ssh_passphrase_env", "", "Name of the environment variable holding the key passphrase."),
    Setting("ssh_passphrase_file", "", "File holding the key passphrase (read at connect time, never stored)."),
    Setting("ssh_password_env", "", "Name of the environment variable holding an SSH password (password auth)."),
    Setting("ssh_password_file", "", "File holding an SSH password (password auth; read at connect time, never stored)."),
    Setting("ssh_connect_timeout", 10.0, "Seconds allowed for an SSH connection and handshake.", float),
    Setting("ssh_per_host_connections", 4, "Concurrent SSH handshakes allowed per host.", int),
    Setting("api_token", "", "Bootstrap bearer token for the HTTP API, acting as the server's user until the first 'opsnb token create'; then refused.", secret=True),
    Setting("api_max_payload_bytes", 1_048_576, "Largest webhook payload accepted, in bytes.", int),
    Setting("api_rate_limit", 600, "API requests a minute per token (bursts up to that many); 0 means no limit. Webhook routes are not limited.", int),
    Setting("api_request_timeout_seconds", 30.0, "Longest an API request may take before it is answered 503.", float),
    Setting("github_webhook_secret", "", "Secret GitHub signs deploy webhooks with (X-Hub-Signature-256); empty: refused.",
            secret=True),
    Setting("gitlab_webhook_token", "", "Token GitLab sends with deploy webhooks (X-Gitlab-Token); empty: refused.",
            secret=True),
    Setting("deploy_command", "",
            "Deploy command run on a service's hosts by a rollback, as a JSON list; {service}, {env}, {version} filled in."),
    Setting("deploy_hosts", "service={service}", "Fleet selector of a service's hosts for a rollback ({service}, {env})."),
    Setting("rollback_error_threshold", 0.05, "Error ratio under which a rolled-back service counts as recovered.", float),
    Setting("rollback_verify_timeout", 120.0, "Seconds a rollback waits for recovery before reporting NOT recovered.", float),
    Setting("port", 8888, "Port `opsnb up` listens on (127.0.0.1).", int),
    Setting("demo_live_tick", 60.0, "Seconds between ticks of the live demo world under `opsnb up` (a demo workspace).",
            float),
    Setting("timezone", "UTC", "IANA zone used to display times; storage is always UTC."),
    Setting("notify_max_attempts", 6, "Attempts per notification before it is marked failed.", int),
    Setting("notify_backoff_seconds", 30.0, "First retry delay of a failed notification; doubles per attempt (max 1 h).", float),
    Setting("notify_timeout_seconds", 10.0, "Network timeout of one notification attempt (HTTP, SMTP), in seconds.", float),
    Setting("alerts_group_by", "alertname,service", "Labels alerts are grouped by for notifications (comma-separated; '...' = every label)."),
    Setting("alerts_group_wait", 30.0, "Seconds a new alert group waits before its first notification.", float),
    Setting("alerts_group_interval", 300.0, "Seconds between checks of a group that has notified (new alerts are sent then).", float),
    Setting("alerts_repeat_interval", 14400.0, "Seconds before an unchanged firing group is notified again.", float),
    Setting("alerts_channel", "", "Notification channel alert groups are sent to (ops.notify); empty means record only."),
    Setting("slos_dir", "slos", "Directory of OpenSLO YAML files, relative to the workspace (or absolute)."),
    Setting("prometheus_url", "", "Prometheus HTTP API base URL for SLIs whose source is prometheus."),
    Setting("postmortem_auto_draft", "SEV1,SEV2",
            "Severities whose postmortem is drafted when the incident is resolved (comma-separated; empty: off)."),
    Setting("postmortem_digest_channel", "",
            "Notify channel of the daily overdue action item digest for owners without a contact; empty: contacts only."),
)

_BY_NAME = {s.name: s for s in SETTINGS}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(setting: Setting, value: Any, source: str) -> Any:
    kind = setting.type
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if kind is bool:
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif kind is int and isinstance(value, str | float) and not isinstance(value, bool):
        try:
            return int(value)
        except ValueError:
            pass
    elif kind is float and isinstance(value, str | int) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            pass
    elif kind is str and isinstance(value, int | float):
        return str(value)
    raise ConfigError(
        f"setting {setting.name!r} from {source} must be {kind.__name__}, got {value!r}",
        setting=setting.name,
        source=source,
    )


def _unknown(name: str, source: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(_BY_NAME), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(sorted(_BY_NAME))}"
    return ConfigError(f"unknown setting {name!r} in {source}{hint}", setting=name, source=source)


def mask_url(url: str) -> str:
    """Return a database URL with its password replaced by ``***``."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


class Settings(Mapping[str, Any]):
    """Resolved settings; read like a mapping or by attribute (``settings.workspace``).

    Secrets are masked in ``repr`` and in :meth:`table`.
    """

    def __init__(self, values: dict[str, Any], sources: dict[str, str]) -> None:
        self._values = values
        self._sources = sources

    @classmethod
    def load(
        cls,
        workspace: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Settings:
        """Resolve every setting from defaults, ``opsnb.toml``, environment and keywords.

        Args:
            workspace: Workspace directory; overrides ``OPSNB_WORKSPACE``.
            environ: Environment to read (default ``os.environ``).
            **overrides: Settings by name; they win over every other source.

        Raises:
            ConfigError: Malformed ``opsnb.toml``, an unknown setting or a bad value,
                naming the setting and where it came from.
        """
        env = os.environ if environ is None else environ
        for name in overrides:
            if name not in _BY_NAME:
                raise _unknown(name, "keyword arguments")
        values = {s.name: s.default for s in SETTINGS}
        sources = {s.name: "default" for s in SETTINGS}

        ws_raw: Any = workspace if workspace is not None else overrides.get("workspace")
        ws_src = "argument"
        if ws_raw is None and env.get("OPSNB_WORKSPACE"):
            ws_raw, ws_src = env["OPSNB_WORKSPACE"], "OPSNB_WORKSPACE"
        if ws_raw is None:
            ws_raw, ws_src = values["workspace"], "default"
        ws_path = Path(os.fspath(ws_raw)).expanduser()

        config_path = Path(env["OPSNB_CONFIG"]) if env.get("OPSNB_CONFIG") else ws_path / "opsnb.toml"
        if env.get("OPSNB_CONFIG") and not config_path.is_file():
            raise ConfigError(f"OPSNB_CONFIG names {config_path}, which is not a file", source=str(config_path))
        if config_path.is_file():
            try:
                data = tomllib.loads(config_path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"malformed {config_path}: {exc}", source=str(config_path)) from None
            table = data.get("opsnb", data) if isinstance(data.get("opsnb"), dict) else data
            for name, value in table.items():
                if name == "workspace":
                    raise ConfigError(
                        f"{config_path}: 'workspace' cannot be set in the file that lives in it; "
                        "use --workspace or OPSNB_WORKSPACE",
                        setting=name,
                        source=str(config_path),
                    )
                if name not in _BY_NAME:
                    raise _unknown(name, str(config_path))
                values[name] = _coerce(_BY_NAME[name], value, str(config_path))
                sources[name] = str(config_path)

        for s in SETTINGS:
            if s.name != "workspace" and s.env in env:
                values[s.name] = _coerce(s, env[s.env], s.env)
                sources[s.name] = s.env
        for name, value in overrides.items():
            if name != "workspace" and value is not None:
                values[name] = _coerce(_BY_NAME[name], value, "keyword arguments")
                sources[name] = "argument"
        values["workspace"] = str(ws_path)
        sources["workspace"] = ws_src
        return cls(values, sources)

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def source(self, name: str) -> str:
        """Where a setting's value came from: default, a file path, an env name or argument."""
        return self._sources[name]

    def shown(self, name: str) -> str:
        """A setting's value as safe to print: secrets masked."""
        value = self._values[name]
        if not _BY_NAME[name].secret or not value:
            return str(value)
        return mask_url(value) if name == "database_url" else "***"

    def table(self) -> list[dict[str, str]]:
        """Every setting with its shown value, source, default and help."""
        return [
            {"name": s.name, "value": self.shown(s.name), "source": self._sources[s.name],
             "default": str(s.default), "help": s.help}
            for s in SETTINGS
        ]

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={self.shown(n)!r}" for n in self._values)
        return f"Settings({inner})"


def markdown_table() -> str:
    """The settings table as Markdown, for the README (``python -m opsnb.config``)."""
    lines = ["| setting | default | environment | help |", "|---|---|---|---|"]
    lines += [f"| `{s.name}` | `{s.default}` | `{s.env}` | {s.help} |" for s in SETTINGS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
