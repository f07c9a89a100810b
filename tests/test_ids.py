"""The one id rule (webui/ids.py): in a path, an id outside 1..2147483647 or a task/file id that is not a UUID is a
404 on every route and method (never a 405 or a 500); in a query string a 422 naming the parameter; in a body a 422
naming the field. The class, not instances: every rule of the url_map is asked."""
from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.factories import Case, make_users
from tests.test_api import API
from webui.ids import ID_TEXT, MAX_ID, as_id, as_uid

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
#: Path arguments that name a row by number, and those that name a task or a file (whatever their converter).
NUMBERS = {"id", "int"}
UIDS = {"task_id", "file_id"}
OUT_OF_RANGE = [str(MAX_ID + 1), str(2**63), "99999999999999999999999", "0", "-1", "01", "\u00b2", "\u0663", "1.0"]
NOT_UIDS = ["%00", "a%00b", "3f2b9c1e8a414c5d9e0f1a2b3c4d5e6f", "3f2b9c1e-8a41-4c5d-9e0f-1a2b3c4d5e6", "x" * 36]


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_an_id_is_exactly_a_number_from_1_to_max(n):
    assert (as_id(str(n)) == n) is (1 <= n <= MAX_ID)
    assert (as_id(n) == n) is (1 <= n <= MAX_ID)
    assert bool(re.fullmatch(ID_TEXT, str(n))) is (1 <= n <= MAX_ID)


@given(st.text(max_size=40))
def test_no_other_text_is_an_id(text):
    if as_id(text) is not None:
        assert text == str(int(text)) and text.isascii()
    if as_uid(text) is not None:
        assert len(text) == 36 and text.isascii()


def test_bools_and_floats_are_not_ids():
    assert [as_id(v) for v in (True, False, 1.0, None, [1], "1 ", " 1")] == [None] * 7


def _kind(converter: str, name: str) -> str | None:
    if converter in NUMBERS:
        return "number"
    if converter == "uid" or name in UIDS:
        return "uid"
    return None


def _paths(app):
    """Every (method, path) with an id argument, the argument replaced by each hostile value."""
    for rule in app.url_map.iter_rules():
        params = [(conv, name, _kind(conv, name)) for conv, name in _PARAM.findall(rule.rule)]
        if not any(kind for _conv, _name, kind in params):
            continue
        fine = {"number": "1", "uid": "3f2b9c1e-8a41-4c5d-9e0f-1a2b3c4d5e6f", None: "x"}
        for method in sorted(rule.methods - {"OPTIONS"}):
            for _conv, name, kind in params:
                for bad in {"number": OUT_OF_RANGE, "uid": NOT_UIDS, None: []}[kind]:
                    values = {n: bad if n == name else fine[k] for _c, n, k in params}
                    yield method, _PARAM.sub(lambda m, v=values: v[m[2]], rule.rule)


@pytest.mark.parametrize("who", ["owner", "auditor", "tim"])
def test_every_route_answers_404_to_an_id_that_is_none(app, system, tx, login, who):
    make_users(system, tx)
    client = login(who)
    token = app.test_client().post(f"{API}/auth/token", json={"username": who, "password": f"rahasia-{who}"}).json
    headers = {"Authorization": f"Bearer {token['token']}"}
    asked = 0
    for method, path in _paths(app):
        resp = client.open(path, method=method, headers=headers if path.startswith(API) else {})
        assert resp.status_code == 404, (method, path, resp.status_code)
        asked += 1
    assert asked > 300  # 38 routes with an id, their methods, 9 or 5 values each


def test_ids_in_query_strings_are_422_naming_the_parameter(system, tx, login):
    make_users(system, tx)
    case = Case.start(system, tx)
    replay = f"/audit/kasus/{case.instance_id}/replay?langkah={{}}"
    asked = {"auditor": ["/kasus?mulai={}&kursor=x", "/audit?mulai={}&kursor=x", replay, "/laporan/tanggapan?kasus={}",
                         "/laporan/log.csv?kasus={}", "/laporan/log.xes?kasus={}"],
             "owner": ["/proses/modeler?versi={}", "/proses/modeler/diagram.json?versi={}"]}
    for who, urls in asked.items():
        client = login(who)
        for url in urls:
            name = re.search(r"\?(\w+)=", url)[1]
            for bad in ["x", *OUT_OF_RANGE]:
                resp = client.get(url.format(bad))
                assert resp.status_code == 422, (url, bad, resp.status_code)
                assert f"{name}: harus nomor 1 sampai 2147483647." in resp.text, (url, bad)


def test_ids_in_a_migration_body_are_422_naming_the_field(app, system, tx):
    make_users(system, tx)
    Case.start(system, tx)
    token = app.test_client().post(f"{API}/auth/token", json={"username": "owner", "password": "rahasia-owner"}).json
    client = app.test_client()
    for ids in ([1000000000000000], ["99999999999"], [MAX_ID + 1], [10**23], [0], [-1], [True], [1.5], ["1"], [],
                [1] * 1001, "1", None):
        resp = client.post(f"{API}/definitions/1/migration", json={"case_ids": ids},
                           headers={"Authorization": f"Bearer {token['token']}"})
        assert resp.status_code == 422, (ids, resp.json)
        assert [f["field"] for f in resp.json["error"]["fields"]] == ["case_ids"], ids
    resp = client.post(f"{API}/definitions/1/migration", json={"case_ids": [MAX_ID]},
                       headers={"Authorization": f"Bearer {token['token']}"})
    assert resp.status_code == 200 and resp.json["refused"][0]["case_id"] == MAX_ID  # in range: "no such case"
