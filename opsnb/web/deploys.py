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
from typing import Any

from tornado import web

from opsnb.errors import ValidationError
from opsnb.web.alerts import frame_records, query_time
from opsnb.web.base import ApiHandler


def _answer(handler: ApiHandler, res: Any) -> None:
    handler.reply({"status": "accepted", "outcome": res.outcome, "deploy": res.deploy.id if res.deploy else None,
                   "deploy_status": res.deploy.status if res.deploy else None, "receipt": res.receipt}, 202)


def _env_arg(handler: ApiHandler) -> str:
    return handler.get_query_argument("env", "prod") or "prod"


class GitHubHandler(ApiHandler):
    """``POST /deploys/github``: a GitHub webhook, verified with its HMAC-SHA256 signature."""

    auth = False  # GitHub signs with its own secret (checked once the body is in)

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

        prep = parse_github(self.request.body or b"", event=event, delivery=delivery, env=_env_arg(self))
        _answer(self, self.ops.deploys.ingest(prep))


class GitLabHandler(ApiHandler):
    """``POST /deploys/gitlab``: a GitLab deployment or pipeline hook with its secret token."""

    auth = False  # GitLab sends its own token, checked on the headers before the body is read

    def prepare(self) -> None:
        super().prepare()
        token = str(self.ops.settings.gitlab_webhook_token)
        if not token:
            raise web.HTTPError(401, reason="gitlab_webhook_token is not set; GitLab webhooks are refused")
        sent = self.request.headers.get("X-Gitlab-Token", "")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise web.HTTPError(401, reason="missing or wrong X-Gitlab-Token")

    def post(self) -> None:
        from opsnb.deploys.webhooks import parse_gitlab

        delivery = self.request.headers.get("X-Gitlab-Event-UUID") or None
        prep = parse_gitlab(self.request.body or b"", delivery=delivery, env=_env_arg(self))
        _answer(self, self.ops.deploys.ingest(prep))


class DeploysHandler(ApiHandler):
    """``POST /deploys`` (generic JSON deploy) and ``GET /deploys?service=&env=&since=&limit=``."""

    def post(self) -> None:
        from opsnb.deploys.webhooks import parse_generic

        prep = parse_generic(self.request.body or b"")
        _answer(self, self.ops.deploys.ingest(prep))

    def get(self) -> None:
        raw_limit = self.get_query_argument("limit", "1000")
        if not raw_limit.isdigit() or not 0 < int(raw_limit) <= 100_000:
            raise ValidationError("limit must be an integer from 1 to 100000", field="limit")
        df = self.ops.deploys.list(service=self.get_query_argument("service", None) or None,
                                   env=self.get_query_argument("env", None) or None,
                                   since=query_time(self, "since", ago=True), limit=int(raw_limit))
        self.reply({"deploys": frame_records(df), "count": len(df)})


def routes() -> list[tuple[str, Any]]:
    return [("/deploys/github", GitHubHandler), ("/deploys/gitlab", GitLabHandler), ("/deploys", DeploysHandler)]
