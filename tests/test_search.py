"""Search across cases (process/search.py), the orders of the inbox and the case list (process/sorting.py) and saved
filters (process/savedfilters.py): the services, the pages and the API."""
from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import delete, select, update

from engine.models import Instance, TaskRow
from process import savedfilters, search
from process.casefile import case_list
from process.deadlines import WIB
from process.errors import BadRequest, Conflict
from process.inbox import inbox
from process.models import CaseSearch
from process.sorting import Sort, parse_sort
from tests.factories import FORMS, Case, make_users, step1_form, user
from tests.test_api import Api


@pytest.fixture
def users(system, tx):
    make_users(system, tx)


@pytest.fixture
def api(client, users):
    return Api(client)


#: Narratives are at least 50 characters long (the step's form).
LONG = "Kegiatan ini diselenggarakan oleh KPU Provinsi Sumatera Barat. "


def submitted(case: Case, who="tim", **changes) -> None:
    """Complete step 1 of ``case`` with the usual form, ``changes`` applied."""
    with case.tx() as s:
        form = {**step1_form(case.system, s, who), **changes}
    case.do(who, form)


def found(system, tx, who: str, q: str, **kw) -> list[int]:
    with tx() as s:
        return [c.instance.id for c in case_list(s, user(s, who), system.rules, q=q, **kw).items]


# --------------------------------------------------------------------------------------------- search
def test_search_finds_a_case_by_each_of_its_texts(system, tx, users):
    a = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    submitted(a, caption="Jalan sehat bersama #PemiluDamai", narasi=LONG + "Ratusan warga Bukittinggi berjalan kaki.")
    b = Case.start(system, tx, nama="Rapat Koordinasi Tahapan")
    with tx() as s:
        s.execute(update(Instance).where(Instance.id == b.instance_id).values(title="Rapat Koordinasi Tahapan"))
    submitted(b, tempat_kegiatan="Payakumbuh", caption="Rapat bersama partai", narasi=LONG + "Rapat di aula kantor.")
    with tx() as s:
        number = case_list(s, user(s, "auditor"), system.rules, q=None).items[1].register_number
    assert number and number.startswith("001/REG-MEDSOS/")
    assert found(system, tx, "auditor", "pemula") == [a.instance_id]  # title
    assert found(system, tx, "auditor", "pemil") == [a.instance_id]  # the last word as a prefix
    assert found(system, tx, "auditor", "padang") == [a.instance_id]  # place
    assert found(system, tx, "auditor", "payakumbuh") == [b.instance_id]
    assert found(system, tx, "auditor", "pemilu damai") == []  # every word must occur
    assert found(system, tx, "auditor", "pemiludamai") == [a.instance_id]  # caption ("#PemiluDamai" is one word)
    assert found(system, tx, "auditor", "BUKITTINGGI") == [a.instance_id]  # narrative, any case
    assert found(system, tx, "auditor", number) == [a.instance_id]  # register number, as printed
    assert found(system, tx, "auditor", "aula rapat") == [b.instance_id]  # words in any order, across texts
    assert sorted(found(system, tx, "auditor", "bersama")) == sorted([a.instance_id, b.instance_id])
    assert found(system, tx, "auditor", "jalan sehat tidak") == []
    assert found(system, tx, "auditor", "-- % _") == []  # no word: nothing
    with tx() as s:
        page = case_list(s, user(s, "auditor"), system.rules, q="bukitting")
        [hit] = page.items
        assert page.sort == Sort("relevance", "desc")
        assert hit.snippet.field == "narasi"
        assert [p for p, marked in hit.snippet.parts if marked] == ["Bukittinggi"]
        assert "".join(p for p, _m in hit.snippet.parts).endswith("Ratusan warga Bukittinggi berjalan kaki.")


def test_ranking_puts_the_better_match_first(system, tx, users):
    once = Case.start(system, tx, nama="Kampanye damai")
    submitted(once, narasi=LONG + "Kegiatan di kantor.", caption="Kegiatan")
    often = Case.start(system, tx, nama="Deklarasi damai")
    submitted(often, narasi=LONG + "Damai, damai, damai: pemilu damai.", caption="Damai selalu")
    assert found(system, tx, "auditor", "damai") == [often.instance_id, once.instance_id]


def test_search_sees_only_the_cases_the_list_shows(system, tx, users):
    humas = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    teknis = Case.start(system, tx, who="tim_lain", nama="Bimtek Pemilih Disabilitas")
    assert found(system, tx, "tim", "pemilih") == [humas.instance_id]  # team-scoped lanes: own team's cases
    assert found(system, tx, "tim_lain", "pemilih") == [teknis.instance_id]
    assert sorted(found(system, tx, "auditor", "pemilih")) == sorted([humas.instance_id, teknis.instance_id])
    assert found(system, tx, "tim", "disabilitas") == []


def test_the_index_follows_the_case_through_returns_and_corrections(system, tx, users):
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    assert found(system, tx, "auditor", "alpukat") == []
    submitted(case, caption="Alpukat segar #KPUSumbar")
    assert found(system, tx, "auditor", "alpukat") == [case.instance_id]
    case.do("admin", "admin_kembalikan")  # sent back to step 1
    submitted(case, caption="Belimbing manis #KPUSumbar")
    assert found(system, tx, "auditor", "alpukat") == []  # the old caption is no longer what the case says
    assert found(system, tx, "auditor", "belimbing") == [case.instance_id]
    case.do("admin", "terima")
    case.do("wapimred", {**FORMS["koreksi"], "caption_koreksi": "Ceri merah #Pemilu"})
    assert found(system, tx, "auditor", "ceri") == [case.instance_id]  # a correction is searched too
    assert found(system, tx, "auditor", "belimbing") == [case.instance_id]  # and the original stays
    with tx() as s:
        row = s.get(CaseSearch, case.instance_id)
        fields = json.loads(row.fields)
        assert fields["caption_koreksi"] == "Ceri merah #Pemilu" and fields[search.PLACE] == "Padang"
        assert fields[search.REGISTER].startswith("001/REG-MEDSOS/")


def test_reindex_rebuilds_the_index_from_the_event_log(system, tx, users, cli):
    case = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    submitted(case, caption="Durian montong")
    with tx() as s:
        s.execute(delete(CaseSearch))
    assert found(system, tx, "auditor", "durian") == []
    result = cli("search", "reindex")
    assert result.exit_code == 0 and "1 cases" in result.output
    assert found(system, tx, "auditor", "durian") == [case.instance_id]
    assert found(system, tx, "auditor", "padang") == [case.instance_id]
    with tx() as s:  # a completion on a case without a row writes its row whole
        s.execute(delete(CaseSearch))
    case.do("admin", "terima")
    assert found(system, tx, "auditor", "durian montong") == [case.instance_id]


def test_words_and_snippets():
    assert search.words_of("REG/2025/0001 — Sosialisasi «Pemilu» café_bar") == [
        "reg", "2025", "0001", "sosialisasi", "pemilu", "cafe", "bar"]
    assert search.query_words(" ".join(f"w{i}" for i in range(20))) == [f"w{i}" for i in range(8)]
    text = "x " * 200 + "Pemilih pemula datang. " + "y " * 200
    snip = search.snippet_of({search.TITLE: "Pemilih", "narasi": text}, ["pemula"])
    assert snip.field == "narasi" and snip.parts[0] == ("\u2026", False) and snip.parts[-1] == ("\u2026", False)
    assert [p for p, marked in snip.parts if marked] == ["pemula"]
    assert search.snippet_of({search.TITLE: "Pemilih"}, ["pemilih"]) is None  # the title is shown anyway


# ---------------------------------------------------------------------------------------------- sorting
def _dated_cases(system, tx) -> list[Case]:
    """Four cases: activity dates 5, 3, 5 and 4 May (two alike), changed in the order 2, 0, 3, 1."""
    cases = [Case.start(system, tx, nama=f"Kegiatan {n}", tanggal=f"2025-05-0{d}") for n, d in enumerate((5, 3, 5, 4))]
    with tx() as s:
        for case, hour in zip(cases, (2, 0, 3, 1), strict=True):
            s.execute(update(Instance).where(Instance.id == case.instance_id)
                      .values(updated_at=datetime(2025, 5, 8, 10 + hour, tzinfo=WIB)))
    return cases


def test_case_list_orders(system, tx, users):
    c0, c1, c2, c3 = _dated_cases(system, tx)
    ids = [c.instance_id for c in (c0, c1, c2, c3)]

    def order(key, direction):
        return found(system, tx, "auditor", None, sort=Sort(key, direction))

    assert order("created", "desc") == ids[::-1]
    assert order("created", "asc") == ids
    # Ties (c0 and c2 share 5 May) by id, in the same direction.
    assert order("activity_date", "asc") == [c1.instance_id, c3.instance_id, c0.instance_id, c2.instance_id]
    assert order("activity_date", "desc") == [c2.instance_id, c0.instance_id, c3.instance_id, c1.instance_id]
    assert order("changed", "desc") == [c2.instance_id, c0.instance_id, c3.instance_id, c1.instance_id]
    assert order("changed", "asc") == [c1.instance_id, c3.instance_id, c0.instance_id, c2.instance_id]
    # The deadline of a case is its waiting step's (end of the day after the activity); a case without a waiting
    # step's deadline comes last either way.
    with tx() as s:
        s.execute(update(TaskRow).where(TaskRow.instance_id == c3.instance_id).values(due_at=None))
    assert order("deadline", "asc") == [c1.instance_id, c0.instance_id, c2.instance_id, c3.instance_id]
    assert order("deadline", "desc") == [c2.instance_id, c0.instance_id, c1.instance_id, c3.instance_id]
    # Stable across pages.
    with tx() as s:
        pages = [case_list(s, user(s, "auditor"), system.rules, page=p, per_page=1,
                           sort=Sort("activity_date", "asc")).items[0].instance.id for p in (1, 2, 3, 4)]
    assert pages == order("activity_date", "asc")


def test_inbox_orders(system, tx, users):
    """The four cases tim opened: tim holds their first steps (the "mine" tab)."""
    c0, c1, c2, c3 = _dated_cases(system, tx)
    with tx() as s:
        u = user(s, "tim")
        lanes = system.rules.lane_map(s).lanes_of(u)

        def order(key=None, direction=None):
            sort = Sort(key, direction) if key else None
            return [i.instance_id for i in inbox(s, u, "mine", now=system.clock.now(), lanes=lanes, sort=sort)]

        by_id = {c.instance_id: c.task_id for c in (c0, c1, c2, c3)}
        tie = sorted([c0.instance_id, c2.instance_id], key=lambda i: by_id[i])  # same date: by task id
        assert order() == order("deadline", "asc")
        assert order("deadline", "asc")[:2] == [c1.instance_id, c3.instance_id]
        assert order("activity_date", "asc") == [c1.instance_id, c3.instance_id, *tie]
        assert order("activity_date", "desc") == [*tie[::-1], c3.instance_id, c1.instance_id]
        assert order("changed", "desc") == [c2.instance_id, c0.instance_id, c3.instance_id, c1.instance_id]
        assert order("changed", "asc") == [c1.instance_id, c3.instance_id, c0.instance_id, c2.instance_id]
        s.execute(update(TaskRow).where(TaskRow.instance_id == c1.instance_id).values(due_at=None))
        assert order("deadline", "desc")[-1] == c1.instance_id and order("deadline", "asc")[-1] == c1.instance_id
        assert order("deadline", "desc")[:1] == [tie[-1]]


def test_unknown_orders_are_refused_with_a_message():
    assert parse_sort("cases", None, None, default="created") == Sort("created", "desc")
    assert parse_sort("inbox", "", "", default="deadline") == Sort("deadline", "asc")
    with pytest.raises(BadRequest) as refused:
        parse_sort("inbox", "relevance", None, default="deadline")
    assert refused.value.code == "sort.unknown" and refused.value.params["options"] == [
        "deadline", "changed", "activity_date"]
    with pytest.raises(BadRequest) as refused:
        parse_sort("cases", "changed", "up", default="created")
    assert refused.value.code == "sort.order_unknown"


def test_sort_parameters_on_the_pages(system, tx, users, login):
    _dated_cases(system, tx)
    auditor = login("auditor")
    page = auditor.get("/kasus?sort=activity_date&order=asc").text
    assert page.index("Kegiatan 1") < page.index("Kegiatan 3") < page.index("Kegiatan 0") < page.index("Kegiatan 2")
    refused = auditor.get("/kasus?sort=nama")
    assert refused.status_code == 422 and "Urutan \u201cnama\u201d tidak dikenal" in refused.text
    tim = login("tim")
    page = tim.get("/kotak-tugas?tab=mine&sort=changed&order=desc").text
    assert page.index("Kegiatan 2") < page.index("Kegiatan 0") < page.index("Kegiatan 3") < page.index("Kegiatan 1")
    assert "Diurutkan menurut Perubahan terakhir kasus, turun." in page
    assert tim.get("/kotak-tugas?order=sideways").status_code == 422


# ------------------------------------------------------------------------------------------ saved filters
def test_saved_filters_service(system, tx, users):
    now = system.clock.now()
    with tx() as s:
        tim = user(s, "tim")
        saved = savedfilters.save(s, tim, "inbox", "  Terlambat dulu ", {"tab": "overdue", "sort": "deadline",
                                                                          "q": "", "dari": "2025-05-01"}, now)
        assert (saved.name, saved.params) == ("Terlambat dulu", {"tab": "overdue", "dari": "2025-05-01",
                                                                  "sort": "deadline"})
        savedfilters.save(s, tim, "cases", "Terlambat dulu", {"q": "padang"}, now)  # another list: no clash
        with pytest.raises(Conflict):
            savedfilters.save(s, tim, "inbox", "Terlambat dulu", {}, now)
        savedfilters.save(s, user(s, "tim2"), "inbox", "Terlambat dulu", {}, now)  # another user: no clash
        for view, name, params, code in (
                ("tasks", "x", {}, "saved_filter.view_unknown"),
                ("inbox", "", {}, "saved_filter.name_required"),
                ("inbox", "x" * 81, {}, "saved_filter.name_required"),
                ("inbox", "a\x00b", {}, "saved_filter.name_required"),
                ("inbox", "x", {"prosedur": "a"}, "saved_filter.param_unknown"),
                ("cases", "x", {"tab": "mine"}, "saved_filter.param_unknown"),
                ("inbox", "x", {"tab": "all"}, "saved_filter.param_invalid"),
                ("inbox", "x", {"dari": "06/05/2025"}, "saved_filter.param_invalid"),
                ("inbox", "x", {"q": "x" * 101}, "saved_filter.param_invalid"),
                ("inbox", "x", {"sort": "relevance"}, "sort.unknown"),
                ("cases", "x", {"order": "sideways"}, "sort.order_unknown"),
                ("cases", "x", ["q"], "saved_filter.params_not_object"),
                ("cases", "x", {"q": 5}, "saved_filter.params_not_object")):
            with pytest.raises(BadRequest) as refused:
                savedfilters.save(s, tim, view, name, params, now)
            assert refused.value.code == code, (view, name, params)
        assert [(f.view, f.name) for f in savedfilters.filters(s, tim)] == [("cases", "Terlambat dulu"),
                                                                            ("inbox", "Terlambat dulu")]
        with pytest.raises(Exception) as missing:
            savedfilters.delete(s, user(s, "tim2"), saved.id)  # not one's own: as if missing
        assert missing.value.code == "saved_filter.not_found"
        assert savedfilters.delete(s, tim, saved.id).name == "Terlambat dulu"
        assert [f.view for f in savedfilters.filters(s, tim)] == ["cases"]


def test_saved_filters_on_the_pages(system, tx, users, login):
    Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    Case.start(system, tx, nama="Rapat Pleno")
    tim = login("tim")
    page = tim.get("/kasus?q=pleno&sort=activity_date&order=asc").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = tim.post("/filter-tersimpan", data={"csrf_token": token, "view": "cases", "name": "Pleno",
                                                "q": "pleno", "sort": "activity_date", "order": "asc"})
    assert resp.status_code == 302 and resp.location.endswith("/kasus?q=pleno&sort=activity_date&order=asc")
    page = tim.get("/kasus").text
    assert 'href="/kasus?q=pleno&amp;sort=activity_date&amp;order=asc">Pleno</a>' in page
    again = tim.post("/filter-tersimpan", data={"csrf_token": token, "view": "cases", "name": "Pleno"},
                     follow_redirects=True)
    assert "Anda sudah memiliki filter bernama \u201cPleno\u201d untuk daftar ini." in again.text
    assert ">Pleno</a>" not in login("tim2").get("/kasus").text  # per user
    with tx() as s:
        [saved] = savedfilters.filters(s, user(s, "tim"))
    assert login("tim2").post(f"/filter-tersimpan/{saved.id}/hapus", data={"csrf_token": token}).status_code in (
        400, 404)
    resp = tim.post(f"/filter-tersimpan/{saved.id}/hapus", data={"csrf_token": token}, follow_redirects=True)
    assert "Filter \u201cPleno\u201d dihapus." in resp.text and ">Pleno</a>" not in resp.text


# ------------------------------------------------------------------------------------------------- API
def test_api_search_sort_and_saved_filters(system, tx, api):
    from tests.test_api import component, conforms

    a = Case.start(system, tx, nama="Sosialisasi Pemilih Pemula")
    submitted(a, caption="Jalan sehat bersama #PemiluDamai")
    b = Case.start(system, tx, nama="Rapat Pleno", tanggal="2025-05-01")
    doc = api.client.get("/api/v1/openapi.json").json
    resp = api.get("auditor", "/cases?q=pemiludamai")
    assert resp.status_code == 200, resp.json
    conforms(doc, component("CasePage"), resp.json)
    [item] = resp.json["items"]
    assert item["id"] == a.instance_id and resp.json["sort"] == "relevance"
    snippet = item["snippet"]
    assert snippet["field"] == "caption" and [snippet["text"][s:e] for s, e in snippet["marks"]] == ["PemiluDamai"]
    resp = api.get("auditor", "/cases?sort=activity_date&order=asc")
    assert [c["id"] for c in resp.json["items"]] == [b.instance_id, a.instance_id]
    assert resp.json["items"][0]["snippet"] is None
    bad = api.get("auditor", "/cases?sort=title")
    assert bad.status_code == 422 and bad.json["error"]["code"] == "sort.unknown"
    assert "deadline" in bad.json["error"]["message"]
    assert api.get("tim", "/tasks?scope=mine&sort=activity_date&order=asc").json["items"][0]["case_id"] == b.instance_id
    assert api.get("tim", "/tasks?sort=soon").status_code == 422

    created = api.post("tim", "/saved-filters", json={"name": "Lajur", "view": "inbox",
                                                      "params": {"tab": "lane", "sort": "changed"}})
    assert created.status_code == 201, created.json
    conforms(doc, component("SavedFilter"), created.json)
    assert created.json["params"] == {"tab": "lane", "sort": "changed"}
    dup = api.post("tim", "/saved-filters", json={"name": "Lajur", "view": "inbox"})
    assert dup.status_code == 409 and dup.json["error"]["code"] == "saved_filter.duplicate"
    for body, code in (({"name": "x", "view": "inbox", "params": {"scope": "lane"}}, "saved_filter.param_unknown"),
                       ({"name": "x", "view": "inbox", "colour": "red"}, "form_invalid"),
                       ({"name": "", "view": "cases"}, "saved_filter.name_required"),
                       ({"name": "x", "view": "cases", "params": {"sort": "nama"}}, "sort.unknown")):
        refused = api.post("tim", "/saved-filters", json=body)
        assert refused.status_code == 422, (body, refused.json)
        assert refused.json["error"]["code"] == code, (body, refused.json)
    assert [f["name"] for f in api.get("tim", "/saved-filters?view=inbox").json] == ["Lajur"]
    assert api.get("tim", "/saved-filters?view=cases").json == []
    assert api.get("tim", "/saved-filters?view=other").status_code == 422
    assert api.get("tim2", "/saved-filters").json == []
    fid = created.json["id"]
    other = api.client.delete(f"/api/v1/saved-filters/{fid}", headers=api.headers("tim2"))
    assert other.status_code == 404
    gone = api.client.delete(f"/api/v1/saved-filters/{fid}", headers=api.headers("tim"))
    assert gone.status_code == 204 and api.get("tim", "/saved-filters").json == []
    with tx() as s:
        assert s.execute(select(CaseSearch.instance_id).order_by(CaseSearch.instance_id)).scalars().all() == [
            a.instance_id, b.instance_id]
