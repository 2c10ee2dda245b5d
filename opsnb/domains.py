"""The one table of opsnb's domains, from which everything that lists them is derived.

Each row names a package under ``opsnb/`` and what it contributes: the Workbench service
(``ops.<attribute>``), CLI groups, state tables and migrations, API routes, a demo seeder and
whether the API server loads its service at start-up. The Workbench's typed service
properties, the ``opsnb`` command's groups, the schema upgrade, the demo world and the API's
routes all read this table, so adding a domain is one row here and one package.

Rows are in dependency order: a domain's tables may refer only to tables of rows above it,
and the demo seeds domains in this order.

A test (``tests/core/test_domains.py``) checks that every row's parts exist: the service
class, each CLI group, ``models.py`` and ``migrations/`` when the row has tables, the API
module's ``routes()``, the demo module's ``seed()`` and a ``tests/<package>/`` folder.
This module imports nothing but the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    """One row of the domain table.

    Attributes:
        package: The package under ``opsnb/`` (``opsnb.<package>``).
        attribute: The Workbench property (``ops.<attribute>``); None when the row has no service.
        service: The service class in ``opsnb.<package>.service``; it takes the Workbench.
        commands: CLI commands, each ``name`` (``opsnb.<package>.cli:cli``) or ``name=attr``
            (``opsnb.<package>.cli:<attr>``).
        tables: Whether the domain owns state tables (``models.py`` and ``migrations/``).
        api: The module under ``opsnb/web/`` whose ``routes()`` serve this domain, if any.
        demo: Whether ``opsnb.<package>.demo`` seeds the demo world.
        preload: Whether the API server imports the service at start-up (a first import of
            pandas in the alert ticker's thread stalled the event loop for over a second).
    """

    package: str
    attribute: str | None = None
    service: str | None = None
    commands: tuple[str, ...] = ()
    tables: bool = False
    api: str | None = None
    demo: bool = False
    preload: bool = False

    @property
    def service_path(self) -> str | None:
        """``module:Class`` of the service, or None."""
        return f"opsnb.{self.package}.service:{self.service}" if self.service else None

    def command_paths(self) -> dict[str, str]:
        """CLI command name -> ``module:attribute``."""
        out: dict[str, str] = {}
        for spec in self.commands:
            name, _, attr = spec.partition("=")
            out[name] = f"opsnb.{self.package}.cli:{attr or 'cli'}"
        return out


DOMAINS: tuple[Domain, ...] = (
    Domain("store", "store", "Store", commands=("lake",)),
    Domain("access", "access", "Access", commands=("user", "token=token_cli"), tables=True),
    Domain("audit", "audit", "Audit", commands=("audit",), tables=True, api="audit"),
    Domain("servers", "fleet", "Fleet", commands=("fleet",), tables=True, demo=True),
    Domain("deploys", "deploys", "Deploys", commands=("deploys",), tables=True, api="deploys", demo=True),
    Domain("changes", "changes", "Changes", commands=("change",), tables=True, api="changes"),
    Domain("incidents", "incidents", "Incidents", commands=("incident",), tables=True, api="incidents",
           demo=True, preload=True),
    Domain("slo", "slos", "SLOs", commands=("slo",), tables=True, api="slos", demo=True),
    Domain("alerts", "alerts", "Alerts", commands=("alerts",), tables=True, api="alerts", demo=True,
           preload=True),
    Domain("oncall", "oncall", "OnCall", commands=("oncall",), tables=True, api="oncall", demo=True,
           preload=True),
    Domain("postmortems", "postmortems", "Postmortems", commands=("postmortem",), tables=True),
    Domain("notify", "notify", "Notify", commands=("notify",), tables=True, api="notify", preload=True),
    Domain("runbooks", "runbooks", "Runbooks", commands=("runbook", "scheduler=scheduler"), tables=True,
           api="runbooks", demo=True, preload=True),
    Domain("logs", "logs", "Logs", commands=("logs",), api="logs"),
    Domain("traces", "traces", "Traces", commands=("traces",)),
    Domain("web", commands=("up=up", "share=share_cli"), api="health"),
    Domain("demo", commands=("demo=demo",)),
)


def by_attribute(name: str) -> Domain | None:
    """The row whose Workbench property is ``name``."""
    for d in DOMAINS:
        if d.attribute == name:
            return d
    return None


def services() -> dict[str, str]:
    """Workbench property -> ``module:Class``, in table order."""
    return {d.attribute: d.service_path for d in DOMAINS if d.attribute and d.service_path}


def commands() -> dict[str, str]:
    """Every CLI command -> ``module:attribute``."""
    out: dict[str, str] = {}
    for d in DOMAINS:
        out.update(d.command_paths())
    return out


def table_domains() -> tuple[str, ...]:
    """Packages that own state tables, in dependency order."""
    return tuple(d.package for d in DOMAINS if d.tables)


def route_modules() -> tuple[str, ...]:
    """The API's route modules (health first)."""
    mods = [f"opsnb.web.{d.api}" for d in DOMAINS if d.api]
    return tuple(sorted(mods, key=lambda m: m != "opsnb.web.health"))


def preload_modules() -> tuple[str, ...]:
    """Modules the API server imports at start-up."""
    return (*(f"opsnb.{d.package}.service" for d in DOMAINS if d.preload), "opsnb.store.db")


def demo_modules() -> tuple[str, ...]:
    """Modules whose ``seed(ops, world)`` builds the demo world, in dependency order."""
    return tuple(f"opsnb.{d.package}.demo" for d in DOMAINS if d.demo)
