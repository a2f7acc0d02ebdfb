"""The schema conformance run: requests generated from the published OpenAPI schema
(``/api/schema/``) go in-process through the WSGI app, and every answer is checked against
that schema: no 5xx, and status code, content type, body and headers all as documented.

Schemathesis generates the cases (data that fits the schema, data that does not, and
fitting data around the catalog's real SKUs, so requests get past "unknown product");
Hypothesis drives them with a fixed seed (``derandomize``) and a bounded number of
examples, so a run is deterministic and fast.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application

# Bounded so the suite stays fast; CONFORMANCE_EXAMPLES=500 for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("CONFORMANCE_EXAMPLES", "40"))
ACTIVE, INACTIVE, SOLD_OUT = "FUZZ-1", "FUZZ-2", "FUZZ-3"
SKUS = [ACTIVE, INACTIVE, SOLD_OUT, "NOPE-404"]
# What an answer must be: the status, content type, body and headers the schema says.
RESPONSE_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# The generated run also wants no 5xx, and a 4xx for every request the schema refuses.
CHECKS = [not_a_server_error, *RESPONSE_CHECKS, negative_data_rejection]


def load_schema() -> Any:
    """The schema exactly as clients get it: fetched from the app."""
    return schemathesis.openapi.from_wsgi("/api/schema/", application)


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def cases_for(operation: Any) -> st.SearchStrategy:
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if "{sku}" in operation.path:
        strategies.append(
            st.sampled_from(SKUS).flatmap(
                lambda sku: operation.as_strategy(path_parameters={"sku": sku})
            )
        )
    if operation.method.upper() == "POST" and operation.path.endswith("/cart/items/"):
        adds = st.one_of(
            st.tuples(st.sampled_from(SKUS), st.integers(-2, 12)),
            st.tuples(st.just(ACTIVE), st.integers(1, 4)),  # accepted: reaches the 202
        )
        strategies.append(
            adds.flatmap(
                lambda pair: operation.as_strategy(body={"sku": pair[0], "quantity": pair[1]})
            )
        )
    return st.one_of(strategies)


def run_conformance(
    operation: Any, headers: dict[str, str], *, examples: int = EXAMPLES_PER_OPERATION
) -> Counter[int]:
    """Raise the first non-conformance found for ``operation``, called with ``headers``;
    returns how often each status was answered."""
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=examples,
        derandomize=True,  # the same cases on every run
        deadline=None,
        database=None,  # no .hypothesis/ folder in the work tree
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases_for(operation))
    def conforms(case: Any) -> None:
        statuses[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1

    # Generated adds may all ask for more than the line cap leaves (it is small in the
    # test catalog): one that fits goes first, so the run always reaches the 202.
    for case in _fitting_cases(operation):
        statuses[case.call_and_validate(headers=headers, checks=CHECKS).status_code] += 1
    conforms()
    return statuses


def _fitting_cases(operation: Any) -> list[Any]:
    if operation.method.upper() == "POST" and operation.path.endswith("/cart/items/"):
        return [operation.Case(body={"sku": ACTIVE, "quantity": 1}, media_type="application/json")]
    return []
