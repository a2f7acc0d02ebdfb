"""Reading the API's errors in tests: RFC 9457 problem details (core.problems)."""

from __future__ import annotations

from typing import Any

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "code", "request_id"}


def problem(response: Any, status: int) -> dict[str, Any]:
    """The problem document of an error answer, after checking it is one."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body.keys() >= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert body["request_id"] == response["X-Request-ID"]
    return body


def field_errors(response: Any) -> dict[str | None, list[str]]:
    """A 400's field errors as ``{attr: [detail, ...]}`` (attr None: the whole request)."""
    errors: dict[str | None, list[str]] = {}
    for error in problem(response, 400)["errors"]:
        errors.setdefault(error["attr"], []).append(error["detail"])
    return errors
