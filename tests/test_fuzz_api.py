"""Schemathesis over /api/v1/openapi.json: every operation, as each role and anonymously, positive and negative
data, in-process against the WSGI app. Fails on any 5xx and on any answer the document does not describe
(status, content type, headers, body schema), and on invalid data that is not refused with a 4xx. Every id in a
path or body also meets the hostile values of ``HOSTILE_IDS`` and ``HOSTILE_BODIES``.

Deterministic (hypothesis ``derandomize``) and bounded: ``MAX_EXAMPLES`` cases per operation, identity and mode.
The world it runs in has a case waiting at every step, so real task and case ids are drawn too.
"""
from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzzing import COUNTS, COVERAGE, ROLE_USERS, make_world

API = "/api/v1"
#: Cases per operation, identity (7 roles and anonymous) and mode (positive, negative).
MAX_EXAMPLES = 12
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
#: Operations without a token: asked once, anonymously (the token call hashes a password each time).
PUBLIC = {"createToken", "getOpenApi"}
IDENTITIES = [None, *ROLE_USERS]
_PLACEHOLDER = re.compile(r"<(?:\w+:)?(\w+)>")


@pytest.fixture
def world(system, tx):
    return make_world(system, tx)


@pytest.fixture
def api_schema(app, world):
    return schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)


def _token(app, username: str) -> str:
    resp = app.test_client().post(f"{API}/auth/token",
                                  json={"username": username, "password": f"rahasia-{username}"})
    assert resp.status_code == 200, resp.json
    return resp.json["token"]


def _known_ids(operation, world) -> dict[str, list]:
    """Real ids for the path parameters of ``operation``, to be drawn besides generated ones."""
    names = {p.name for p in operation.path_parameters}
    known = {"task_id": world.task_ids, "case_id": world.case_ids, "version": [1]}
    return {name: values for name, values in known.items() if name in names}


def _strategy(operation, mode: GenerationMode, world):
    generated = operation.as_strategy(generation_mode=mode)
    known = _known_ids(operation, world)
    if mode is not GenerationMode.POSITIVE or not known:
        return generated
    # Positive cases also on rows that exist: the same operation with a real id in place of a generated one.
    with_real = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in known.items()}).flatmap(
        lambda ids: operation.as_strategy(generation_mode=mode, path_parameters=ids))
    return st.one_of(generated, with_real)


#: Besides what schemathesis generates from the document (its bounds included), every id in a path or a body meets
#: these, whatever the document says: the ends of PostgreSQL's integer and SQLite's, and beyond.
HOSTILE_IDS = {
    "case_id": [2**31, 2**63, 10**23, 0, -1],
    "version": [2**31, 2**63, 10**23, 0, -1],
    "task_id": ["\x00", "a\x00b", "..", "x" * 300],
}
HOSTILE_BODIES = {"migrateCases": [{"case_ids": ids} for ids in (
    [2**31], [10**15], [2**63], [10**23], ["99999999999"], ["1"], [0], [-1], [True], [1.5], [], [1] * 1001)]}


def _hostile_cases(operation, world) -> list:
    real = {name: values[0] for name, values in _known_ids(operation, world).items()}
    cases = [operation.Case(path_parameters={**real, name: value})
             for name in sorted(real.keys() & HOSTILE_IDS.keys()) for value in HOSTILE_IDS[name]]
    cases += [operation.Case(path_parameters=real, body=body, media_type="application/json")
              for body in HOSTILE_BODIES.get(operation.definition.raw.get("operationId"), [])]
    return cases


def _run(operation, identity: str | None, mode: GenerationMode, headers: dict, world) -> int:
    calls = 0
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])

    @given(case=_strategy(operation, mode, world))
    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    def check(case):
        nonlocal calls
        calls += 1
        case.call_and_validate(headers=headers, checks=checks)

    check()
    return calls


@pytest.mark.parametrize("identity", IDENTITIES, ids=lambda i: i or "anonymous")
def test_api_answers_as_documented(app, api_schema, world, identity):
    headers = {"Authorization": f"Bearer {_token(app, ROLE_USERS[identity])}"} if identity else {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # Every API route but the document itself (schemathesis leaves out the schema it was loaded from).
    routes = {method + " " + _PLACEHOLDER.sub(r"{\1}", rule.rule.removeprefix(API))
              for rule in app.url_map.iter_rules() if rule.rule.startswith(API + "/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert {operation.label for operation in operations} == routes - {"GET /openapi.json"}
    ran = 0
    for operation in operations:
        if operation.definition.raw.get("operationId") in PUBLIC and identity is not None:
            continue
        for case in _hostile_cases(operation, world):
            case.call_and_validate(headers=headers, checks=CHECKS)
            ran += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            ran += _run(operation, identity, mode, headers, world)
    COUNTS["schemathesis (API)"] += ran
    COVERAGE["schemathesis (API)"] = f"{len(operations)} operations x {len(IDENTITIES)} identities x 2 modes"
