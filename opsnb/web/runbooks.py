"""Runbook API: ``GET /runbooks``, ``GET /runbooks/<name>``, ``POST /runbooks/<name>/runs``,
``GET /runs/<id>`` (with progress events, ``?since=N``), ``POST /runs/<id>/cancel``,
``GET|POST /runs/<id>/approvals`` (answer a paused ``confirm()`` step of an interactive run)."""

from __future__ import annotations

import json
from typing import Any

from opsnb.errors import ValidationError
from opsnb.web.base import ANY, BOOL, OBJ, STR, ApiHandler, endpoint, obj, page_of

_RUN_KEYS = {"params", "dry_run", "reason", "approve", "wait", "timeout", "interactive"}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(row, default=str))


class RunbooksHandler(ApiHandler):
    @endpoint("List runbooks", paginated=True, response=page_of("runbooks"))
    def get(self) -> None:
        df = self.ops.runbooks.list()
        self.page("runbooks", json.loads(df.to_json(orient="records")))


class RunbookHandler(ApiHandler):
    @endpoint("One runbook: parameters, targets, steps", response=OBJ)
    def get(self, name: str) -> None:
        self.reply(_jsonable(self.ops.runbooks.get(name).as_dict()))


class RunbookRunsHandler(ApiHandler):
    @endpoint("Start a run of a runbook (answers at once; poll /runs/{run_id})", scope="runbooks:run",
              role="responder", status=202,
              body=obj(params=OBJ, dry_run=BOOL, reason=STR, approve={"type": "array", "items": STR},
                       timeout={"type": "number"}, interactive=BOOL, extra=False),
              response=obj(("id",), id=STR, status=STR))
    def post(self, name: str) -> None:
        body = self.json_body() if self.request.body else {}
        if not isinstance(body, dict):
            raise ValidationError("the body must be a JSON object", field="body")
        unknown = sorted(set(body) - _RUN_KEYS)
        if unknown:
            raise ValidationError(f"unknown fields {', '.join(unknown)}; allowed: {', '.join(sorted(_RUN_KEYS))}",
                                  field="body")
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise ValidationError("params must be an object", field="params")
        dry = body.get("dry_run")
        if dry is not None and not isinstance(dry, bool):
            raise ValidationError("dry_run must be true or false", field="dry_run")
        approve = body.get("approve") or []
        if not isinstance(approve, list) or not all(isinstance(a, str) for a in approve):
            raise ValidationError("approve must be a list of strings", field="approve")
        timeout = body.get("timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, int | float)):
            raise ValidationError("timeout must be a number of seconds", field="timeout")
        interactive = body.get("interactive", False)
        if not isinstance(interactive, bool):
            raise ValidationError("interactive must be true or false", field="interactive")
        run = self.ops.runbooks.run(name, params=params, dry_run=dry, reason=str(body.get("reason") or ""),
                                    approve=approve, timeout=timeout, trigger="api", wait=False,
                                    interactive=interactive)
        self.reply(_jsonable(run.as_dict()), status=202)


class RunHandler(ApiHandler):
    @endpoint("A run's status with its progress events after ?since=N",
              query={"since": {"type": "integer", "minimum": 0}}, response=obj(("status",), status=STR, events=ANY))
    def get(self, run_id: str) -> None:
        since = self.query_int("since", 0, 0, 10**9)
        row = self.ops.runbooks.record(run_id)
        row["events"] = self.ops.runbooks.events(run_id, since=max(0, since))
        self.reply(_jsonable(row))


class RunApprovalsHandler(ApiHandler):
    @endpoint("Approvals asked for by a run's confirm() steps", response=obj(approvals={"type": "array"}))
    def get(self, run_id: str) -> None:
        self.ops.runbooks.record(run_id)
        self.reply({"approvals": json.loads(self.ops.runbooks.approvals(run_id).to_json(orient="records",
                                                                                      date_format="iso"))})

    @endpoint("Answer a paused confirm() step", scope="runbooks:run", role="responder",
              body=obj(("approve",), approve=BOOL, step=STR, reason=STR), response=OBJ)
    def post(self, run_id: str) -> None:
        body = self.json_body()
        if not isinstance(body, dict) or not isinstance(body.get("approve"), bool):
            raise ValidationError('the body must be {"approve": true|false, "step": ..., "reason": ...}',
                                  field="approve")
        step = body.get("step")
        if step is not None and not isinstance(step, str):
            raise ValidationError("step must be a string", field="step")
        self.reply(self.ops.runbooks.decide(run_id, approve=body["approve"], step=step,
                                            reason=str(body.get("reason") or "")))


class RunCancelHandler(ApiHandler):
    @endpoint("Cancel a run", scope="runbooks:run", role="responder", body=obj(reason=STR), response=OBJ)
    def post(self, run_id: str) -> None:
        body = self.json_body() if self.request.body else {}
        reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        self.reply(_jsonable(self.ops.runbooks.cancel(run_id, reason=reason)))


class RunOutputHandler(ApiHandler):
    @endpoint("A run's cells with their outputs", paginated=True, response=page_of("cells"))
    def get(self, run_id: str) -> None:
        self.ops.runbooks.record(run_id)
        df = self.ops.runbooks.cells(run_id)
        self.page("cells", json.loads(df.to_json(orient="records", date_format="iso")), extra={"run": run_id})


def routes() -> list[tuple[str, Any]]:
    name = r"([A-Za-z0-9][A-Za-z0-9_.-]{0,199})"
    rid = r"(R-[0-9A-Za-z-]{1,40})"
    return [
        ("/runbooks", RunbooksHandler),
        (f"/runbooks/{name}", RunbookHandler),
        (f"/runbooks/{name}/runs", RunbookRunsHandler),
        (f"/runs/{rid}", RunHandler),
        (f"/runs/{rid}/cancel", RunCancelHandler),
        (f"/runs/{rid}/approvals", RunApprovalsHandler),
        (f"/runs/{rid}/output", RunOutputHandler),
    ]
