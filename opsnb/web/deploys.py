"""Deploy webhooks and listing under ``/opsnb/api/v1/deploys``.

``POST /deploys/github`` (``deployment_status`` and ``workflow_run`` events, signed with
``X-Hub-Signature-256`` by the ``github_webhook_secret`` setting, deduplicated on
``X-GitHub-Delivery``), ``POST /deploys/gitlab`` (deployment and pipeline hooks, ``X-Gitlab-Token``
compared in constant time with ``gitlab_webhook_token``, deduplicated on ``X-Gitlab-Event-UUID``),
``POST /deploys`` (a generic JSON deploy, API token) answer 202 once the receipt and the deploy
are committed; a bad body gets a 400 naming the field and writes nothing. ``GET /deploys`` lists
deploys (``?service=&env=&since=&limit=``). Providers sign their own way, so the two provider
routes do not take the opsnb API token.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tornado import web

from opsnb.errors import ValidationError
from opsnb.web.alerts import frame_records
from opsnb.web.base import ApiHandler

try:
    from opsnb.web.base import STR, TIME, endpoint, obj
except ImportError:  # the API before declared endpoints: the declarations are documentation only
    STR = TIME = {}

    def endpoint(summary: str, **kwargs: Any) -> Callable[[Any], Any]:
        return lambda fn: fn

    def obj(required: tuple[str, ...] = (), extra: bool = True, **props: dict[str, Any]) -> dict[str, Any]:
        return {}


RESPONSE = obj(("status", "outcome"), status=STR, outcome=STR, deploy=STR, deploy_status=STR)


def since_arg(handler: ApiHandler) -> datetime | None:
    """``?since=`` in the time grammar (``1h`` means an hour ago); a bad value is a 400 naming it."""
    from opsnb.timeparse import parse_instant

    raw = handler.get_query_argument("since", None)
    return None if not raw else parse_instant(raw, name="since", ago=True)


def _answer(handler: ApiHandler, res: Any) -> None:
    handler.reply({"status": "accepted", "outcome": res.outcome, "deploy": res.deploy.id if res.deploy else None,
                   "deploy_status": res.deploy.status if res.deploy else None, "receipt": res.receipt}, 202)


def _env_arg(handler: ApiHandler) -> str:
    return handler.get_query_argument("env", "prod") or "prod"


def _service_arg(handler: ApiHandler) -> str | None:
    return handler.get_query_argument("service", None) or None


class GitHubHandler(ApiHandler):
    """``POST /deploys/github``: a GitHub webhook, verified with its HMAC-SHA256 signature."""

    auth = False  # GitHub signs with its own secret (checked once the body is in)

    @endpoint("Receive a GitHub deployment_status or workflow_run webhook (X-Hub-Signature-256)", public=True,
              status=202, body={"type": "object"}, query={"env": STR, "service": STR}, response=RESPONSE)
    def post(self) -> None:
        secret = str(self.ops.settings.github_webhook_secret)
        if not secret:
            raise web.HTTPError(401, reason="github_webhook_secret is not set; GitHub webhooks are refused")
        sig = self.request.headers.get("X-Hub-Signature-256", "")
        want = "sha256=" + hmac.new(secret.encode(), self.request.body or b"", hashlib.sha256).hexdigest()
        if not hmac.compare_digest(sig.encode(), want.encode()):
            raise web.HTTPError(401, reason="missing or wrong X-Hub-Signature-256")
        event = self.request.headers.get("X-GitHub-Event", "")
        delivery = self.request.headers.get("X-GitHub-Delivery") or None
        from opsnb.deploys.webhooks import parse_github

        prep = parse_github(self.request.body or b"", event=event, delivery=delivery, env=_env_arg(self), service=_service_arg(self))
        _answer(self, self.ops.deploys.ingest(prep))


class GitLabHandler(ApiHandler):
    """``POST /deploys/gitlab``: a GitLab deployment or pipeline hook with its secret token."""

    auth = False  # GitLab sends its own token, checked on the headers before the body is read

    async def prepare(self) -> None:
        done = super().prepare()
        if inspect.isawaitable(done):
            await done
        token = str(self.ops.settings.gitlab_webhook_token)
        if not token:
            raise web.HTTPError(401, reason="gitlab_webhook_token is not set; GitLab webhooks are refused")
        sent = self.request.headers.get("X-Gitlab-Token", "")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise web.HTTPError(401, reason="missing or wrong X-Gitlab-Token")

    @endpoint("Receive a GitLab deployment or pipeline hook (X-Gitlab-Token)", public=True, status=202,
              body={"type": "object"}, query={"env": STR, "service": STR}, response=RESPONSE)
    def post(self) -> None:
        from opsnb.deploys.webhooks import parse_gitlab

        delivery = self.request.headers.get("X-Gitlab-Event-UUID") or None
        prep = parse_gitlab(self.request.body or b"", delivery=delivery, env=_env_arg(self), service=_service_arg(self))
        _answer(self, self.ops.deploys.ingest(prep))


class DeploysHandler(ApiHandler):
    """``POST /deploys`` (generic JSON deploy) and ``GET /deploys?service=&env=&since=&limit=``."""

    @endpoint("Record a deploy (generic JSON)", scope="deploys:write", role="operator", ingest=True, status=202,
              body=obj(("service", "version"), service=STR, version=STR, env=STR, commit=STR, actor=STR, status=STR,
                       started_at=TIME, finished_at=TIME, committed_at=TIME, id=STR, reason=STR,
                       previous_version=STR), response=RESPONSE)
    def post(self) -> None:
        from opsnb.deploys.webhooks import parse_generic

        prep = parse_generic(self.request.body or b"")
        _answer(self, self.ops.deploys.ingest(prep))

    @endpoint("List deploys, newest first", query={"service": STR, "env": STR, "since": TIME},
              response=obj(("deploys", "count"), count={"type": "integer"}))
    def get(self) -> None:
        raw_limit = self.get_query_argument("limit", "1000")
        if not raw_limit.isdigit() or not 0 < int(raw_limit) <= 100_000:
            raise ValidationError("limit must be an integer from 1 to 100000", field="limit")
        df = self.ops.deploys.list(service=self.get_query_argument("service", None) or None,
                                   env=self.get_query_argument("env", None) or None,
                                   since=since_arg(self), limit=int(raw_limit))
        self.reply({"deploys": frame_records(df), "count": len(df)})


def routes() -> list[tuple[str, Any]]:
    return [("/deploys/github", GitHubHandler), ("/deploys/gitlab", GitLabHandler), ("/deploys", DeploysHandler)]
