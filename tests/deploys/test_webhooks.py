"""Deploy webhooks over HTTP: the providers' published examples replayed, signatures, dedup, bad bodies."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.apiserver import ApiServer, call
from tests.conftest import TESTDATA

TOKEN = "api-token-for-deploy-tests"
GH_SECRET = "gh-secret-for-tests"
GL_TOKEN = "gl-token-for-tests"
DATA: Path = TESTDATA / "deploys"


def _err(out: object) -> str:
    """The error message and fields as text, whichever envelope the API answers with."""
    return json.dumps(out)


def _example(name: str) -> bytes:
    return (DATA / name).read_bytes()


def _gh(api: ApiServer, body: bytes, event: str, delivery: str, *, secret: str = GH_SECRET,
        query: str = "") -> tuple[int, object]:
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return call(f"{api.base}/deploys/github{query}", raw=body, headers={
        "X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": sig})


def _gl(api: ApiServer, body: bytes, *, token: str = GL_TOKEN, uuid: str = "", query: str = "") -> tuple[int, object]:
    headers = {"X-Gitlab-Token": token, "X-Gitlab-Event": "Deployment Hook"}
    if uuid:
        headers["X-Gitlab-Event-UUID"] = uuid
    return call(f"{api.base}/deploys/gitlab{query}", raw=body, headers=headers)


@pytest.fixture
def api(ops) -> Iterator[ApiServer]:
    ops.settings._values.update(api_token=TOKEN, github_webhook_secret=GH_SECRET, gitlab_webhook_token=GL_TOKEN)
    srv = ApiServer(ops).start()
    yield srv
    srv.stop()


def test_github_deployment_status_example_is_stored_before_202_and_deduplicated(api) -> None:
    body = _example("github-deployment_status.json")
    status, out = _gh(api, body, "deployment_status", "d-1")
    assert status == 202, out
    assert out["outcome"] == "created" and out["deploy"] == "gh-145988746"
    dep = api.ops.deploys.get("gh-145988746")  # already committed when the 202 came back
    assert (dep.service, dep.env, dep.status, dep.actor) == ("hello-world", "production", "succeeded", "Codertocat")
    assert dep.commit == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e" and dep.version == "f95f852bd8fc"
    assert dep.source == "github" and dep.started_at.isoformat() == "2019-05-15T15:20:53+00:00"
    assert _gh(api, body, "deployment_status", "d-1")[1]["outcome"] == "unchanged"  # redelivery
    assert len(api.ops.deploys.list()) == 1


def test_github_status_progression_finishes_the_running_record(api) -> None:
    doc = json.loads(_example("github-deployment_status.json"))
    doc["deployment_status"]["state"] = "in_progress"
    status, out = _gh(api, json.dumps(doc).encode(), "deployment_status", "p-1")
    assert status == 202 and out["deploy_status"] == "running"
    doc["deployment_status"]["state"] = "failure"
    status, out = _gh(api, json.dumps(doc).encode(), "deployment_status", "p-2")
    assert out["outcome"] == "updated" and api.ops.deploys.get("gh-145988746").status == "failed"


def test_github_workflow_run_example_carries_the_commit_time(api) -> None:
    status, out = _gh(api, _example("github-workflow_run-completed.json"), "workflow_run", "w-1",
                      query="?env=prod&service=checkout")
    assert status == 202, out
    dep = api.ops.deploys.get("gh-run-289782451")
    assert (dep.service, dep.env, dep.status) == ("checkout", "prod", "succeeded")  # ?service= names it
    assert dep.committed_at.isoformat() == "2020-10-05T16:32:07+00:00"
    assert dep.finished_at.isoformat() == "2020-10-05T16:33:49+00:00"


def test_github_signature_is_required_and_checked(api) -> None:
    body = _example("github-deployment_status.json")
    assert _gh(api, body, "deployment_status", "x-1", secret="wrong")[0] == 401
    assert call(f"{api.base}/deploys/github", raw=body, headers={"X-GitHub-Event": "deployment_status"})[0] == 401
    api.ops.settings._values["github_webhook_secret"] = ""  # not configured: refused, never accepted unsigned
    assert _gh(api, body, "deployment_status", "x-2", secret="")[0] == 401
    assert api.ops.deploys.list().empty


def test_gitlab_deployment_and_pipeline_examples(api) -> None:
    status, out = _gl(api, _example("gitlab-deployment.json"), uuid="u-1")
    assert status == 202, out
    dep = api.ops.deploys.get("gl-15")
    assert (dep.service, dep.env, dep.version, dep.actor) == ("test-deployment-webhooks", "staging", "279484c0", "root")
    assert dep.commit == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert dep.finished_at.isoformat() == "2021-04-28T19:50:00+00:00"  # +0200 read as such
    assert _gl(api, _example("gitlab-deployment.json"), uuid="u-1")[1]["outcome"] == "unchanged"
    status, out = _gl(api, _example("gitlab-pipeline.json"), query="?env=prod")
    assert status == 202, out
    pipe = api.ops.deploys.get("gl-pipeline-31")
    assert (pipe.service, pipe.env, pipe.status, pipe.version) == ("gitlab-test", "prod", "succeeded", "bcbb5ec396a2")
    assert pipe.committed_at.isoformat() == "2016-08-12T15:23:21+00:00"  # commit time, for lead time
    assert pipe.finished_at.isoformat() == "2016-08-12T15:26:29+00:00"


def test_gitlab_token_compared_on_the_headers(api) -> None:
    assert _gl(api, _example("gitlab-deployment.json"), token="nope")[0] == 401
    assert call(f"{api.base}/deploys/gitlab", raw=_example("gitlab-deployment.json"))[0] == 401
    assert api.ops.deploys.list().empty


def test_bad_payloads_name_the_field_and_write_nothing(api) -> None:
    doc = json.loads(_example("github-deployment_status.json"))
    del doc["deployment"]["sha"]
    status, out = _gh(api, json.dumps(doc).encode(), "deployment_status", "b-1")
    assert status == 400 and '"field": "deployment.sha"' in _err(out)
    doc = json.loads(_example("github-deployment_status.json"))
    doc["deployment_status"]["state"] = "exploded"
    assert "deployment_status.state" in _err(_gh(api, json.dumps(doc).encode(), "deployment_status", "b-2")[1])
    assert _gh(api, b"{not json", "deployment_status", "b-3")[0] == 400
    assert "X-GitHub-Event" in _err(_gh(api, _example("github-deployment_status.json"), "push", "b-4")[1])
    gl = json.loads(_example("gitlab-deployment.json"))
    gl["status_changed_at"] = "last tuesday"
    status, out = _gl(api, json.dumps(gl).encode())
    assert status == 400 and "status_changed_at" in _err(out)
    status, out = call(f"{api.base}/deploys", {"service": "checkout"}, token=TOKEN)
    assert status == 400 and "version" in _err(out)
    status, out = call(f"{api.base}/deploys", {"service": "checkout", "version": "1", "colour": "red"}, token=TOKEN)
    assert status == 400 and "colour" in _err(out)
    status, out = call(f"{api.base}/deploys", {"service": "check out", "version": "1"}, token=TOKEN)
    assert status == 400 and "service" in _err(out)
    assert api.ops.deploys.list().empty
    assert _gh(api, json.dumps(doc).encode(), "deployment_status", "b-1")[0] == 400  # a refusal leaves no receipt


def test_generic_deploy_rollback_detection_and_listing(api) -> None:
    url = f"{api.base}/deploys"
    assert call(url, {"service": "checkout", "version": "1.0.0"})[0] == 401  # the API token is required
    for v, t in (("1.0.0", "2026-03-01T10:00:00Z"), ("1.1.0", "2026-03-01T11:00:00Z"), ("1.0.0", "2026-03-01T12:00:00Z")):
        status, out = call(url, {"service": "checkout", "version": v, "started_at": t,
                                 "committed_at": "2026-03-01T09:00:00Z"}, token=TOKEN)
        assert status == 202, out
    status, listed = call(f"{url}?service=checkout", token=TOKEN)
    assert status == 200 and listed["count"] == 3
    newest, middle = listed["deploys"][0], listed["deploys"][1]
    assert newest["rollback_of"] == middle["id"] and middle["status"] == "rolled_back"  # back to 1.0.0
    assert call(f"{url}?since=whenever", token=TOKEN)[0] == 400


def test_generic_deploy_is_held_by_a_freeze_and_the_answer_says_the_api_way(api) -> None:
    url = f"{api.base}/deploys"
    assert call(url, {"service": "checkout", "version": "1.0.0"}, token=TOKEN)[0] == 202
    api.ops.deploys.freeze(service="checkout", reason="budget gone")
    status, out = call(url, {"service": "checkout", "version": "1.1.0"}, token=TOKEN)
    text = _err(out)
    assert status == 409, out
    assert '\\"override_freeze\\": true with a \\"reason\\" in the body' in text and "budget gone" in text
    assert "--override-freeze" not in text and "override_freeze=True" not in text
    assert len(api.ops.deploys.list()) == 1  # the refused deploy left nothing
    status, out = call(url, {"service": "checkout", "version": "1.1.0", "override_freeze": True}, token=TOKEN)
    assert status == 400 and "reason" in _err(out)
    status, out = call(url, {"service": "checkout", "version": "1.1.0", "override_freeze": "yes",
                             "reason": "hotfix"}, token=TOKEN)
    assert status == 400 and "override_freeze" in _err(out)
    status, out = call(url, {"service": "checkout", "version": "1.1.0", "override_freeze": True,
                             "reason": "hotfix for INC-9"}, token=TOKEN)
    assert status == 202, out
    audit = api.ops.audit.list(action="deploy.ingest")
    assert any(out["deploy"] in json.dumps(p) and "override_freeze" in json.dumps(p) for p in audit["params"])
    # the remedy passes the freeze without saying so: back to a version that ran here
    status, out = call(url, {"service": "checkout", "version": "1.0.0"}, token=TOKEN)
    assert status == 202 and api.ops.deploys.get(out["deploy"]).rollback_of is not None
    # a provider reports a deploy that already ran: a freeze does not hide it
    body = _example("github-deployment_status.json")
    api.ops.deploys.freeze(service="hello-world", env="production", reason="quiet week")
    assert _gh(api, body, "deployment_status", "f-1")[0] == 202
