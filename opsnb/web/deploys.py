"""Deploy webhooks and listing under ``/opsnb/api/v1/deploys``.

``POST /deploys/github`` (``deployment_status`` and ``workflow_run`` events, signed with
``X-Hub-Signature-256`` by the ``github_webhook_secret`` setting, deduplicated on
``X-GitHub-Delivery``), ``POST /deploys/gitlab`` (deployment and pipeline hooks, ``X-Gitlab-Token``
compared in constant time with ``gitlab_webhook_token``, deduplicated on ``X-Gitlab-Event-UUID``),
``POST /deploys`` (a generic JSON deploy, API token; a deploy freeze refuses it with a 409 unless the
body says ``"override_freeze": true`` with a ``"reason"``) answer 202 once the receipt and the deploy
are committed; a bad body gets a 400 naming the field and writes nothing. ``GET /deploys`` lists
deploys (``?service=&env=&since=&limit=``). Providers sign their own way, so the two provider
routes do not take the opsnb API token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import inspect
import threading
from datetime import datetime
from typing import Any

from tornado import web

from opsnb.errors import ValidationError
from opsnb.web.alerts import frame_records
from opsnb.web.base import BOOL, STR, TIME, ApiHandler, endpoint, obj

RESPONSE = obj(("status", "outcome"), status=STR, outcome=STR, deploy=STR, deploy_status=STR)


def since_arg(handler: ApiHandler) -> datetime | None:
    """``?since=`` in the time grammar (``1h`` means an hour ago); a bad value is a 400 naming it."""
    from opsnb.timeparse import parse_instant

    raw = handler.get_query_argument("since", None)
    return None if not raw else parse_instant(raw, name="since", ago=True)


class _Writer:
    """Group commit: webhooks that arrive while others are being stored go in one transaction.

    A handler validates its body, then waits here. An idle writer starts at once (on the next
    turn of the event loop, so requests already read join it); while a batch is being stored on
    the worker thread (so the event loop keeps reading requests), new arrivals queue and form the
    next batch. Each sender is answered after its batch committed ("stored before acknowledged").
    A failing batch is retried item by item, so one bad delivery does not refuse the others.

    There used to be a fixed 4 ms gather before every drain: at a steady 200/s (one webhook every
    5 ms) it batched nothing and added 4 ms to every answer; under a burst the store itself is
    the wait that batches.
    """

    MAX_BATCH = 200

    def __init__(self, state: Any) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._state = state
        self._queue: list[tuple[Any, asyncio.Future[Any]]] = []
        self._busy = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="opsnb-deploys")

    async def submit(self, prep: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append((prep, fut))
        if not self._busy:
            self._busy = True
            loop.call_soon(lambda: asyncio.ensure_future(self._drain()))
        return await fut

    async def _drain(self) -> None:
        from opsnb.deploys.webhooks import store_many

        loop = asyncio.get_running_loop()
        ops = self._state.ops
        try:
            while self._queue:
                batch = self._queue[: self.MAX_BATCH]
                del self._queue[: self.MAX_BATCH]
                try:
                    results = await loop.run_in_executor(self._pool, store_many, ops, [b[0] for b in batch])
                    for (_, fut), res in zip(batch, results, strict=True):
                        if not fut.done():
                            fut.set_result(res)
                except Exception:
                    for prep, fut in batch:
                        try:
                            one = await loop.run_in_executor(self._pool, store_many, ops, [prep])
                            if not fut.done():
                                fut.set_result(one[0])
                        except Exception as exc:
                            if not fut.done():
                                fut.set_exception(exc)
        finally:
            self._busy = False


_writer_lock = threading.Lock()


def _writer(handler: ApiHandler) -> _Writer:
    state = handler.settings["opsnb"]
    w = getattr(state, "_deploys_writer", None)
    if w is None:
        with _writer_lock:
            w = getattr(state, "_deploys_writer", None)
            if w is None:
                w = state._deploys_writer = _Writer(state)
    return w


async def _ingest(handler: ApiHandler, prep: Any) -> None:
    if prep.fields is not None and not prep.fields.get("actor"):
        prep.fields["actor"] = handler.ops.user  # the request's identity, not the writer thread's
    from opsnb.deploys.webhooks import validate

    validate(prep)  # a bad deploy gets its 400 here, before it can share a batch
    _answer(handler, await _writer(handler).submit(prep))


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
    async def post(self) -> None:
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

        prep = parse_github(self.request.body or b"", event=event, delivery=delivery, env=_env_arg(self),
                            service=_service_arg(self))
        await _ingest(self, prep)


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
    async def post(self) -> None:
        from opsnb.deploys.webhooks import parse_gitlab

        delivery = self.request.headers.get("X-Gitlab-Event-UUID") or None
        prep = parse_gitlab(self.request.body or b"", delivery=delivery, env=_env_arg(self),
                            service=_service_arg(self))
        await _ingest(self, prep)


class DeploysHandler(ApiHandler):
    """``POST /deploys`` (generic JSON deploy) and ``GET /deploys?service=&env=&since=&limit=``."""

    @endpoint("Record a deploy (generic JSON)", scope="deploys:write", role="operator", ingest=True, status=202,
              body=obj(("service", "version"), service=STR, version=STR, env=STR, commit=STR, actor=STR, status=STR,
                       started_at=TIME, finished_at=TIME, committed_at=TIME, id=STR, reason=STR,
                       previous_version=STR, override_freeze=BOOL), response=RESPONSE)
    async def post(self) -> None:
        from opsnb.deploys.webhooks import parse_generic

        await _ingest(self, parse_generic(self.request.body or b""))

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
