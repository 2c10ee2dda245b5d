"""Sloth's ``prometheus/v1`` SLO specs, converted to the OpenSLO v1 objects opsnb evaluates.

Sloth (github.com/slok/sloth) is the most used SLO-as-code format after OpenSLO. A spec names
a ``service``, ``labels`` and ``slos``; each SLO has an ``objective`` in percent, an SLI
(``events`` with ``error_query``/``total_query``, ``raw`` with ``errorRatioQuery``, or a
``plugin``) and ``alerting`` with a page and a ticket alert. Sloth's Kubernetes resource
(``apiVersion: sloth.slok.dev/v1``, ``kind: PrometheusServiceLevel``, camelCase keys) holds
the same spec under ``spec`` and is read too.

How each part maps (:func:`convert` returns the OpenSLO documents and notes on the rest):

* an SLO becomes ``SLO <service>-<name>`` (Sloth's own SLO id), 30 days rolling (Sloth's
  default period; the spec has no field for it), ``Occurrences``, target ``objective / 100``;
  labels of the spec and of the SLO merge into ``metadata.labels``;
* ``events`` becomes a ``ratioMetric`` with ``bad`` and ``total`` Prometheus queries,
  ``{{.window}}`` rewritten as opsnb's ``{{window}}``;
* ``raw`` becomes ``bad: <ratio>`` over ``total: <ratio> * 0 + 1``, so each minute counts
  once with its error ratio (Sloth averages the ratio over time the same way);
* a ``plugin`` SLI cannot be represented (Sloth runs Go code to make its queries): it is
  kept as metric source type ``sloth-plugin`` with the plugin's id and options, so the SLO
  is listed, reported as having no source, and exported unchanged;
* ``page_alert``/``ticket_alert`` become an AlertPolicy with Sloth's multi-window,
  multi-burn-rate tiers (page: 1h/5m at 14.4x and 6h/30m at 6x; ticket: 1d/2h at 3x and
  3d/6h at 1x), a disabled alert's tiers left out; both disabled gives an AlertPolicy with
  no tiers (nothing alerts, as in Sloth). Alert names, labels, annotations and ``for`` are
  kept as annotations of the AlertPolicy but opsnb does not act on them;
* ``slo_plugins`` and per-SLO ``plugins`` (rule-generation plugins) are not represented.

Anything else the file holds that opsnb does not know is named in the notes, never dropped
silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsnb.bounded import load_yaml_all
from opsnb.errors import ValidationError

VERSION = "prometheus/v1"
K8S_API = "sloth.slok.dev/v1"
K8S_KIND = "PrometheusServiceLevel"
PLUGIN_TYPE = "sloth-plugin"
WINDOW = "30d"

# Sloth's multi-window, multi-burn-rate alerts (the SRE Workbook's, with its factors).
PAGE_TIERS = (("page-1h", "1h", "5m", 14.4), ("page-6h", "6h", "30m", 6.0))
TICKET_TIERS = (("ticket-1d", "1d", "2h", 3.0), ("ticket-3d", "3d", "6h", 1.0))

_TOP = {"version", "service", "labels", "slos", "slo_plugins", "sloPlugins"}
_SLO = {"name", "objective", "description", "labels", "sli", "alerting", "plugins"}
_ALERTING = {"name", "labels", "annotations", "page_alert", "ticket_alert", "pageAlert", "ticketAlert"}
_ALERT = {"disable", "labels", "annotations", "for"}
_DNS = re.compile(r"[^a-z0-9-]+")


@dataclass
class Conversion:
    """What :func:`convert` made of a Sloth file."""

    docs: list[dict[str, Any]] = field(default_factory=list)  # OpenSLO v1 objects
    slos: list[str] = field(default_factory=list)  # names of the SLOs made
    notes: list[str] = field(default_factory=list)  # what could not be represented


def is_sloth(doc: Any) -> bool:
    """Whether one YAML document is a Sloth spec (``prometheus/v1`` or the Kubernetes resource)."""
    if not isinstance(doc, dict):
        return False
    return doc.get("apiVersion") == K8S_API or str(doc.get("version", "")).startswith("prometheus/")


def _dns(name: str) -> str:
    return _DNS.sub("-", name.lower()).strip("-")[:63].strip("-")


def _get(d: dict[str, Any], snake: str, camel: str) -> Any:
    return d.get(snake, d.get(camel))


def _strmap(v: Any, where: str, problems: list[str]) -> dict[str, str]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        problems.append(f"{where}: expected a mapping of strings, got {type(v).__name__}")
        return {}
    return {str(k): "" if x is None else str(x) for k, x in v.items()}


def _window(q: Any, where: str, problems: list[str]) -> str:
    if not isinstance(q, str) or not q.strip():
        problems.append(f"{where}: required query missing")
        return ""
    if "{{.window}}" not in q and "{{ .window }}" not in q:
        problems.append(f"{where}: a Sloth query needs {{{{.window}}}} as its range")
    return q.replace("{{ .window }}", "{{window}}").replace("{{.window}}", "{{window}}").strip()


def _prom(query: str) -> dict[str, Any]:
    return {"metricSource": {"type": "prometheus", "spec": {"query": query}}}


def convert(text: str | bytes, *, source: str, known_services: set[str] | None = None) -> Conversion:
    """Convert a Sloth spec file (one or more YAML documents) to OpenSLO v1 objects.

    Args:
        text: The file's content.
        source: Its name, for messages.
        known_services: OpenSLO ``Service`` names that already exist (not made again).

    Raises:
        ParseError: Not YAML, or past the parsing limits.
        ValidationError: Not a Sloth spec, another version, or a field of the wrong kind;
            every problem is listed, each naming the document, the SLO and the field.
    """
    out = Conversion()
    services = set(known_services or ())
    problems: list[str] = []
    docs = [d for d in load_yaml_all(text, source=source) if d is not None]
    if not docs:
        raise ValidationError(f"{source}: no Sloth spec in the file", source=source)
    for i, raw in enumerate(docs, 1):
        where = f"{source} (document {i})"
        if not is_sloth(raw):
            problems.append(f"{where}: not a Sloth spec: expected version: {VERSION!r} "
                            f"(or apiVersion: {K8S_API!r}, kind: {K8S_KIND!r})")
            continue
        if raw.get("apiVersion") == K8S_API:
            if raw.get("kind") != K8S_KIND:
                problems.append(f"{where}: kind {raw.get('kind')!r}: opsnb reads {K8S_KIND!r} of {K8S_API}")
                continue
            spec = raw.get("spec")
            if not isinstance(spec, dict):
                problems.append(f"{where}: spec: expected a mapping")
                continue
            spec = {**spec, "version": VERSION}
        else:
            spec = raw
            if spec.get("version") != VERSION:
                problems.append(f"{where}: version {spec.get('version')!r} is not supported; opsnb reads "
                                f"Sloth's {VERSION!r}")
                continue
        _one(spec, where, out, services, problems)
    if problems:
        raise ValidationError(f"{source}: invalid Sloth spec:", problems=problems, source=source)
    return out


def _one(spec: dict[str, Any], where: str, out: Conversion, services: set[str], problems: list[str]) -> None:
    for k in sorted(set(spec) - _TOP - {"version"}):
        out.notes.append(f"{where}: field {k!r} is not part of Sloth {VERSION} and was not imported")
    service = spec.get("service")
    if not isinstance(service, str) or not service:
        problems.append(f"{where}: service: required (a string)")
        return
    svc = _dns(service)
    if not svc:
        problems.append(f"{where}: service {service!r} has no letters or digits to name it by")
        return
    labels = _strmap(spec.get("labels"), f"{where}: labels", problems)
    plugins = _get(spec, "slo_plugins", "sloPlugins")
    if plugins:
        ids = [str(p.get("id")) for p in (plugins.get("chain") or []) if isinstance(p, dict)] \
            if isinstance(plugins, dict) else []
        out.notes.append(f"{where}: slo_plugins ({', '.join(ids) or 'given'}) not represented: Sloth runs them "
                         "when it generates rules; opsnb evaluates the SLOs itself")
    slos = spec.get("slos")
    if not isinstance(slos, list) or not slos:
        problems.append(f"{where}: slos: expected a non-empty list")
        return
    if svc not in services:
        out.docs.append({"apiVersion": "openslo/v1", "kind": "Service",
                         "metadata": {"name": svc, **({"displayName": service} if svc != service else {})},
                         "spec": {"description": f"Imported from Sloth ({VERSION})"}})
        services.add(svc)
    for j, slo in enumerate(slos):
        _slo(slo, f"{where}: slos[{j}]", svc, labels, out, problems)


def _slo(slo: Any, where: str, svc: str, labels: dict[str, str], out: Conversion, problems: list[str]) -> None:
    if not isinstance(slo, dict):
        problems.append(f"{where}: expected a mapping")
        return
    sname = slo.get("name")
    if not isinstance(sname, str) or not _dns(sname):
        problems.append(f"{where}.name: required (a string with letters or digits)")
        return
    where = f"{where} {sname!r}"
    for k in sorted(set(slo) - _SLO):
        out.notes.append(f"{where}: field {k!r} is not part of Sloth {VERSION} and was not imported")
    name = _dns(f"{svc}-{sname}")
    if name != f"{svc}-{sname}":
        out.notes.append(f"{where}: named {name!r} (OpenSLO names are lowercase letters, digits and '-')")
    objective = slo.get("objective")
    if isinstance(objective, bool) or not isinstance(objective, int | float) or not 0 < objective <= 100:
        problems.append(f"{where}.objective: expected a percentage in (0, 100], got {objective!r}")
        return
    if slo.get("plugins"):
        out.notes.append(f"{where}: SLO plugins not represented (Sloth runs them when it generates rules)")
    sli = slo.get("sli")
    if not isinstance(sli, dict):
        problems.append(f"{where}.sli: required (events, raw or plugin)")
        return
    kinds = [k for k in ("events", "raw", "plugin") if sli.get(k) is not None]
    if len(kinds) != 1:
        problems.append(f"{where}.sli: give exactly one of events, raw or plugin (got {', '.join(kinds) or 'none'})")
        return
    body = sli[kinds[0]]
    if not isinstance(body, dict):
        problems.append(f"{where}.sli.{kinds[0]}: expected a mapping")
        return
    ratio: dict[str, Any]
    if kinds[0] == "events":
        bad = _window(_get(body, "error_query", "errorQuery"), f"{where}.sli.events.error_query", problems)
        total = _window(_get(body, "total_query", "totalQuery"), f"{where}.sli.events.total_query", problems)
        ratio = {"bad": _prom(bad), "total": _prom(total)}
    elif kinds[0] == "raw":
        q = _window(_get(body, "error_ratio_query", "errorRatioQuery"), f"{where}.sli.raw.errorRatioQuery",
                    problems)
        # Each minute weighs the same: the ratio over a constant 1 wherever the ratio has a value.
        ratio = {"bad": _prom(f"({q})"), "total": _prom(f"({q}) * 0 + 1")}
    else:
        pid = body.get("id")
        if not isinstance(pid, str) or not pid:
            problems.append(f"{where}.sli.plugin.id: required (a string)")
            return
        options = _strmap(body.get("options"), f"{where}.sli.plugin.options", problems)
        ratio = {part: {"metricSource": {"type": PLUGIN_TYPE,
                                         "spec": {"id": pid, "options": options, "part": part}}}
                 for part in ("bad", "total")}
        out.notes.append(f"{where}: SLI plugin {pid!r} cannot be represented (Sloth runs Go code to make its "
                         f"queries); kept as metric source type {PLUGIN_TYPE!r}: listed and exported, not evaluated")
    slo_labels = {**labels, **_strmap(slo.get("labels"), f"{where}.labels", problems)}
    policy = _policy(slo.get("alerting"), where, name, out, problems)
    meta: dict[str, Any] = {"name": name, "displayName": sname}
    if slo_labels:
        meta["labels"] = slo_labels
    spec: dict[str, Any] = {
        "service": svc,
        "indicator": {"metadata": {"name": f"{name}-sli"}, "spec": {"ratioMetric": ratio}},
        "timeWindow": [{"duration": WINDOW, "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"displayName": f"{objective:g} %", "target": round(float(objective) / 100, 12)}],
        "alertPolicies": [policy] if policy else [],
    }
    if isinstance(slo.get("description"), str):
        spec = {"description": slo["description"], **spec}
    out.docs.append({"apiVersion": "openslo/v1", "kind": "SLO", "metadata": meta, "spec": spec})
    out.slos.append(name)


def _policy(alerting: Any, where: str, name: str, out: Conversion, problems: list[str]) -> str | None:
    """The AlertPolicy for an SLO's ``alerting`` (appended to ``out.docs``); its name."""
    if alerting is None:
        alerting = {}
    if not isinstance(alerting, dict):
        problems.append(f"{where}.alerting: expected a mapping")
        return None
    for k in sorted(set(alerting) - _ALERTING):
        out.notes.append(f"{where}.alerting: field {k!r} is not part of Sloth {VERSION} and was not imported")
    ann: dict[str, str] = {}
    if isinstance(alerting.get("name"), str):
        ann["sloth.slok.dev/alert-name"] = alerting["name"]
    for part in ("labels", "annotations"):
        for k, v in _strmap(alerting.get(part), f"{where}.alerting.{part}", problems).items():
            ann[f"sloth.slok.dev/{part}.{k}"] = v
    tiers: list[dict[str, Any]] = []
    kept_extra = bool(ann)
    for kind, snake, camel, table in (("page", "page_alert", "pageAlert", PAGE_TIERS),
                                      ("ticket", "ticket_alert", "ticketAlert", TICKET_TIERS)):
        alert = _get(alerting, snake, camel) or {}
        if not isinstance(alert, dict):
            problems.append(f"{where}.alerting.{snake}: expected a mapping")
            continue
        for k in sorted(set(alert) - _ALERT):
            out.notes.append(f"{where}.alerting.{snake}: field {k!r} is not part of Sloth {VERSION} "
                             "and was not imported")
        if alert.get("disable") is True:
            continue
        for part in ("labels", "annotations"):
            for k, v in _strmap(alert.get(part), f"{where}.alerting.{snake}.{part}", problems).items():
                ann[f"sloth.slok.dev/{snake}.{part}.{k}"] = v
                kept_extra = True
        if alert.get("for") is not None:
            ann[f"sloth.slok.dev/{snake}.for"] = str(alert["for"])
            kept_extra = True
        tiers.extend({"name": n, "severity": kind, "longWindow": lw, "shortWindow": sw, "burnRate": br}
                     for n, lw, sw, br in table)
    if kept_extra:
        out.notes.append(f"{where}: alert names, labels, annotations and 'for' are kept as annotations of "
                         f"AlertPolicy {name}-alerts; opsnb pages by severity (page, ticket) and does not use them")
    first = tiers[0] if tiers else {"name": "none", "severity": "page", "longWindow": "1h", "burnRate": 14.4}
    meta: dict[str, Any] = {"name": f"{name}-alerts"}
    if isinstance(alerting.get("name"), str):
        meta["displayName"] = alerting["name"]
    if ann:
        meta["annotations"] = ann
    out.docs.append({
        "apiVersion": "openslo/v1", "kind": "AlertPolicy", "metadata": meta,
        "spec": {
            "description": "Sloth's multi-window, multi-burn-rate alerts" if tiers
            else "Sloth's page and ticket alerts are both disabled: nothing alerts",
            "alertWhenBreaching": True,
            "conditions": [{"kind": "AlertCondition", "metadata": {"name": first["name"]},
                            "spec": {"severity": first["severity"],
                                     "condition": {"kind": "burnrate", "op": "gt", "threshold": first["burnRate"],
                                                   "lookbackWindow": first["longWindow"]}}}],
            "x-opsnb-multiwindow": {"tiers": tiers},
        },
    })
    return f"{name}-alerts"


def convert_file(path: str | Path, *, known_services: set[str] | None = None) -> Conversion:
    """:func:`convert` of a file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ValidationError(f"{p}: cannot read: {exc}", source=str(p)) from None
    return convert(data, source=str(p), known_services=known_services)
