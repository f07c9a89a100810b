"""A search's cost follows what the person may see, and its pages reach every match once (process/search.py).

The index holds filter words (a case's team and procedure); a search counts its matches only up to
``search.COUNT_MAX`` and ranks them only up to ``search.RANK_MAX``, else lists the newest first. These tests make
both limits small, so a few hundred cases (written as the benchmark writes them: bench/search.py) cross them, and
compare every page with what a plain reading of the texts says matches.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bench import search as bench_search
from engine.models import Instance
from process import search
from process.casefile import case_list
from process.models import CaseSearch, User

N = 240
QUERIES = ("kpu", "pem", "pemilih", "medsos", "reg medsos", "padang", "sosialisasi pem", "ang", "ka", "2025",
           "tim", "zzzz", "lapangan kota")


@pytest.fixture
def seeded(system):
    users = bench_search.seed(system, N, log=lambda *_: None)
    with system.readers() as session:
        texts = {row.instance_id: json.loads(row.fields) for row in session.execute(select(CaseSearch)).scalars()}
        teams = dict(session.execute(select(Instance.id, Instance.group)).all())
    return users, texts, teams


def expected(texts: dict, teams: dict, q: str, team: str | None) -> set[int]:
    """What matches ``q`` read plainly: every word of it among a case's words, the last one as a prefix."""
    words = search.query_words(q)
    out = set()
    for instance_id, fields in texts.items():
        if team is not None and teams[instance_id] != team:
            continue
        have = set(search.words_of(" ".join(fields.values())))
        if all(w in have for w in words[:-1]) and any(h.startswith(words[-1]) for h in have):
            out.add(instance_id)
    return out


def walk(system, user_id: int, q: str, per_page: int) -> tuple[list[int], list]:
    """Every page of the case list for ``q``, followed by its cursor as a reader follows "Berikutnya"."""
    seen, pages, cursor = [], [], None
    with system.readers() as session:
        who = session.get(User, user_id)
        while True:
            result = case_list(session, who, system.rules, q=q, cursor=cursor, per_page=per_page)
            pages.append(result)
            seen += [c.instance.id for c in result.items]
            if result.next_cursor is None:
                return seen, pages
            cursor = result.next_cursor
            assert len(pages) <= N + 2, "the pages never end"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.sampled_from(QUERIES), as_team=st.booleans(), per_page=st.integers(1, 40),
       count_max=st.integers(1, 300), rank_max=st.integers(0, 300))
def test_every_match_is_reached_once_whatever_the_limits(system, seeded, monkeypatch, q, as_team, per_page,
                                                         count_max, rank_max):
    users, texts, teams = seeded
    monkeypatch.setattr(search, "COUNT_MAX", count_max)
    monkeypatch.setattr(search, "RANK_MAX", min(rank_max, count_max))
    want = expected(texts, teams, q, bench_search.TEAMS[0] if as_team else None)
    seen, pages = walk(system, users["team" if as_team else "auditor"], q, per_page)
    assert len(seen) == len(set(seen)), "a case was listed twice"
    assert set(seen) == want
    first = pages[0]
    assert first.total == min(len(want), count_max)
    assert first.more == (len(want) > count_max)
    ranked = len(want) <= min(rank_max, count_max)
    assert first.newest_first == (not ranked and bool(want))
    if first.newest_first:
        assert seen == sorted(seen, reverse=True), "newest first is by case, newest first"


def test_a_team_member_never_finds_another_teams_case_even_by_its_filter_word(system, seeded):
    users, texts, teams = seeded
    other = bench_search.TEAMS[1]
    with system.readers() as session:
        who = session.get(User, users["team"])
        for q in (search.team_word(other), f"kpu {search.team_word(other)}", search.FILTER_MARK):
            assert search.query_words(q) == [w for w in search.words_of(q) if not w.startswith(search.FILTER_MARK)]
            page = case_list(session, who, system.rules, q=q)
            assert all(teams[c.instance.id] == bench_search.TEAMS[0] for c in page.items)


def test_the_filter_words_follow_the_case(system, seeded):
    """Each row's indexed words end with its team's and its procedure's filter words, and the search by procedure
    reads them."""
    with system.readers() as session:
        rows = session.execute(select(CaseSearch.words, Instance.group).join(
            Instance, Instance.id == CaseSearch.instance_id)).all()
        key = system.cases.procedures(session)[0].key
        assert rows and all(words.split()[-2:] == [search.team_word(group), search.procedure_word(key)]
                            for words, group in rows)
        assert search.count(session, "kpu", search.filter_words(procedure=key)) == search.count(session, "kpu")
        assert search.count(session, "kpu", search.filter_words(procedure="lain")) == (0, False)


def test_migration_0016_writes_the_filter_words_of_the_cases_there_are(system, seeded):
    """Down to 0015 (the words without filter words, the FTS5 table without prefix indexes) and up again: the
    search finds the same cases, a team's search only its own."""
    from ops.schema import downgrade, upgrade

    users, texts, teams = seeded
    engine = system.db
    upgrade(engine)  # the test schema is made by the models: stamped as the newest revision here
    downgrade(engine, "0015_timer_due_index")
    with system.readers() as session:
        words = session.execute(select(CaseSearch.words)).scalars().all()
        assert words and not any(search.FILTER_MARK in w for w in words)
    upgrade(engine)
    want = expected(texts, teams, "pem", bench_search.TEAMS[0])
    seen, _pages = walk(system, users["team"], "pem", 50)
    assert set(seen) == want and len(seen) == len(want)
