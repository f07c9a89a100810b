"""Finding a case by what it says: its name, register number, place and the procedure's texts (``alur:text``:
the narrative, the caption and their corrections).

Each case has one ``case_search`` row (process/models.py :class:`CaseSearch`), written in the transaction that
opens the case (:func:`index_case`) and rewritten in the one that changes a searched value (:func:`update_case`,
after a task's completion or the register number it is given). The row keeps the texts as written (``fields``,
for the snippet) and as plain words (``words``): lower-case letters and digits, accents taken off, every other
character a space, so that both databases see the same words whatever their own parsers make of "REG/2025/0001"
or "e-mail". The words are indexed by FTS5 on SQLite and by a ``tsvector`` (configuration ``simple``: no
stemming, the texts are Indonesian) with a GIN index on PostgreSQL.

A query is read the same way: its words must all occur (AND), the last one as a prefix (so a search box finds
while one types).

Who may see which case is part of the index too: ``words`` ends with *filter words*, one naming the case's team and
one its procedure (:func:`team_word`, :func:`procedure_word`; they begin with :data:`FILTER_MARK`, which no query
word may begin with). A team member's search adds their team's word to the query, so the index intersects the two
and nothing outside the team is read, counted or ranked: the cost follows the matches the person may see.

:func:`find` answers the case list's default search order in two ways, by how many cases match (counted only up
to :data:`COUNT_MAX`, so a word every case holds costs no more than one a thousand hold):

- at most :data:`RANK_MAX`: best match first (``bm25`` on SQLite, ``ts_rank`` on PostgreSQL), every match ranked;
- more: newest case first, read from the index in case-id order and stopped at the page (ranking tens of
  thousands of matches costs hundreds of milliseconds and tells a reader nothing a narrower query would not).

The case list's other orders (process/casefile.py) join :func:`matches` to the cases instead.
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from engine import eventlog
from engine.models import Instance

from .declarations import Declarations, Rulebook
from .models import CaseSearch, RegisterEntry

#: The roles of the texts that are not form fields of their own (``fields`` keys).
TITLE, REGISTER, PLACE = "_title", "_register", "_place"
#: At most this many words of a query are used (the rest are ignored).
MAX_QUERY_WORDS = 8
#: Characters of the snippet around the first word found.
SNIPPET_WIDTH = 160
#: Matches are counted up to this many; past it a search reports "more than COUNT_MAX".
COUNT_MAX = 1000
#: Matches are ranked (best first) when at most this many; more are listed newest first.
RANK_MAX = 1000
#: The start of the filter words (a case's team and procedure) in ``words``: no query word may start with it.
FILTER_MARK = "qqz"

_WORD_RE = re.compile(r"[^\W_]+")


def words_of(value: str) -> list[str]:
    """The words of ``value`` as the index holds them: lower case, accents off, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return _WORD_RE.findall(plain)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    return str(value) if isinstance(value, (str, int, float)) else ""


def searched_fields(rules: Declarations) -> tuple[str, ...]:
    """The form fields a case of ``rules`` is found by: its place and its texts (and their corrections)."""
    out = [rules.place_field] if rules.place_field else []
    for rule in rules.texts:
        out += [f for f in (rule.field, rule.correction) if f]
    return tuple(dict.fromkeys(out))


def _hex(value: str) -> str:
    return value.encode().hex()


def team_word(code: str | None) -> str:
    """The filter word of a case of team ``code`` (of one without a team: ``code`` None)."""
    return f"{FILTER_MARK}t{_hex(code or '')}"


def procedure_word(process_key: str) -> str:
    """The filter word of a case of the procedure ``process_key``."""
    return f"{FILTER_MARK}p{_hex(process_key)}"


def indexed_words(fields: Mapping[str, str], team: str | None, process_key: str) -> str:
    """The indexed words: the texts' words, then the filter words."""
    found = [w for value in fields.values() for w in words_of(value) if not w.startswith(FILTER_MARK)]
    return " ".join([*found, team_word(team), procedure_word(process_key)])


def _fields_from(rules: Declarations, data: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for field_id in searched_fields(rules):
        value = _text(data.get(field_id)).strip()
        if value:
            out[PLACE if field_id == rules.place_field else field_id] = value
    return out


def index_case(session: Session, instance: Instance, rules: Declarations, data: Mapping[str, Any], now: datetime,
               register_number: str | None = None) -> CaseSearch:
    """Write (or rewrite) the search row of ``instance`` from its start (or latest) ``data``."""
    fields = {TITLE: instance.title or ""}
    if register_number:
        fields[REGISTER] = register_number
    fields.update(_fields_from(rules, data))
    row = session.get(CaseSearch, instance.id)
    if row is None:
        row = CaseSearch(instance_id=instance.id)
        session.add(row)
    row.fields = json.dumps(fields, ensure_ascii=False)
    row.words = indexed_words(fields, instance.group, rules.process_key)
    row.updated_at = now
    return row


def update_case(session: Session, instance: Instance, rules: Declarations, submitted: Mapping[str, Any],
                now: datetime, register_number: str | None = None) -> None:
    """After a completion: the searched values ``submitted`` (and the register number given) replace the ones the
    row holds; nothing is written when none of them changed."""
    row = session.get(CaseSearch, instance.id)
    if row is None:  # a case opened before the index existed and not indexed since: index what it has now
        index_case(session, instance, rules, case_data(session, instance.id), now,
                   register_number or _register_number(session, instance.id))
        return
    fields = json.loads(row.fields or "{}")
    new = dict(fields)
    new[TITLE] = instance.title or ""
    if register_number:
        new[REGISTER] = register_number
    for field_id in searched_fields(rules):
        if field_id in submitted:
            key = PLACE if field_id == rules.place_field else field_id
            value = _text(submitted.get(field_id)).strip()
            if value:
                new[key] = value
            else:
                new.pop(key, None)
    words = indexed_words(new, instance.group, rules.process_key)
    if new != fields or words != row.words:
        row.fields = json.dumps(new, ensure_ascii=False)
        row.words = words
        row.updated_at = now


def _register_number(session: Session, instance_id: int) -> str | None:
    return session.execute(select(RegisterEntry.number).where(RegisterEntry.instance_id == instance_id)).scalar()


def case_data(session: Session, instance_id: int) -> dict[str, Any]:
    """The latest value of every field of a case, as its event log holds them (start data, then completions)."""
    data: dict[str, Any] = {}
    for row in eventlog.events_of(session, instance_id):
        if row.type in ("case_started", "task_completed"):
            data.update(eventlog.decode(row).get("data") or {})
    return data


def reindex(session: Session, rulebook: Rulebook, now: datetime, *, batch: int = 500) -> int:
    """Rebuild the search row of every case from its event log and register entry (``alur search reindex``, and
    migration 0012 for the cases that existed before the index); how many."""
    done, last = 0, 0
    while True:
        instances = list(session.execute(select(Instance).where(Instance.id > last).order_by(Instance.id)
                                         .limit(batch)).scalars())
        if not instances:
            return done
        ids = [i.id for i in instances]
        numbers = dict(session.execute(select(RegisterEntry.instance_id, RegisterEntry.number)
                                       .where(RegisterEntry.instance_id.in_(ids))).all())
        rules = rulebook.of_instances(session, ids)
        for instance in instances:
            index_case(session, instance, rules[instance.id], case_data(session, instance.id), now,
                       numbers.get(instance.id))
        session.flush()
        done += len(instances)
        last = ids[-1]


def rewrite_words(session: Session, *, batch: int = 2000) -> int:
    """Write ``words`` of every search row again from its ``fields`` and its case's team and procedure (migration
    0016, which added the filter words); how many."""
    from engine.models import Definition

    done, last = 0, 0
    while True:
        rows = session.execute(
            select(CaseSearch, Instance.group, Definition.process_key)
            .join(Instance, Instance.id == CaseSearch.instance_id)
            .join(Definition, Definition.id == Instance.definition_id)
            .where(CaseSearch.instance_id > last).order_by(CaseSearch.instance_id).limit(batch)).all()
        if not rows:
            return done
        for row, team, process_key in rows:
            row.words = indexed_words(json.loads(row.fields or "{}"), team, process_key)
        session.flush()
        done += len(rows)
        last = rows[-1][0].instance_id


# --------------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------------


def query_words(q: str | None) -> list[str]:
    """The words of a query that are searched for (at most :data:`MAX_QUERY_WORDS`; none that could name a filter
    word)."""
    return [w for w in words_of(q or "") if not w.startswith(FILTER_MARK)][:MAX_QUERY_WORDS]


def _match_expression(dialect: str, words: list[str], filters: tuple[str, ...] = ()) -> str:
    if dialect == "postgresql":
        return " & ".join([*filters, *words[:-1], words[-1] + ":*"])
    return " ".join(f'"{w}"' for w in (*filters, *words[:-1])) + f' "{words[-1]}"*'


def filter_words(team: str | None | bool = False, procedure: str | None = None) -> tuple[str, ...]:
    """The filter words a search adds: ``team`` a team code (None: cases without a team; False: every team), and
    ``procedure`` a process key (None: every procedure)."""
    out = []
    if team is not False:
        out.append(team_word(team))  # type: ignore[arg-type]
    if procedure:
        out.append(procedure_word(procedure))
    return tuple(out)


def matches(session: Session, q: str | None, *, ranked: bool = True, name: str = "hit",
            filters: tuple[str, ...] = ()):
    """A subquery of the cases matching ``q`` (and the ``filters`` words): ``instance_id`` and ``rank`` (higher is
    better; 0 for all when not ``ranked``); None when ``q`` has no word. For the orders that are not by relevance:
    every match is joined (and ranked, if asked): see :func:`find` for the default order."""
    words = query_words(q)
    if not words:
        return None
    dialect = session.get_bind().dialect.name
    expression = _match_expression(dialect, words, filters)
    if dialect == "postgresql":
        rank = "ts_rank(words_tsv, to_tsquery('simple', :match))" if ranked else "0.0"
        query = sql(f"SELECT instance_id, {rank} AS rank FROM case_search "  # noqa: S608 - no input in it
                    "WHERE words_tsv @@ to_tsquery('simple', :match)")
    else:
        rank = "-bm25(case_search_fts)" if ranked else "0.0"
        query = sql(f"SELECT rowid AS instance_id, {rank} AS rank FROM case_search_fts "  # noqa: S608
                    "WHERE case_search_fts MATCH :match")
    # Materialized: the planners find the matches once, then join the cases (SQLite would otherwise run the
    # full-text query again for every case).
    return query.bindparams(match=expression).columns(instance_id=Integer, rank=Float).cte(name).prefix_with(
        "MATERIALIZED")


@dataclass(frozen=True)
class Found:
    """One page of a search in its default order (:func:`find`)."""

    #: How many cases match: exact unless ``more``.
    total: int
    #: More than :data:`COUNT_MAX` cases match (``total`` is then COUNT_MAX).
    more: bool
    #: The page is in best-match order (else newest first).
    ranked: bool
    #: The page's case ids, in order.
    ids: list[int]
    #: Where the next page starts (None: this is the last page): ``("rank", offset)`` or ``("before", case id)``.
    next: tuple[str, int] | None


_COUNT = {
    "sqlite": "SELECT count(*) FROM (SELECT 1 FROM case_search_fts WHERE case_search_fts MATCH :match LIMIT :cap)",
    "postgresql": "SELECT count(*) FROM (SELECT 1 FROM case_search WHERE words_tsv @@ to_tsquery('simple', :match) "
                  "LIMIT :cap) AS hit",
}
_RANKED = {
    "sqlite": "SELECT rowid FROM case_search_fts WHERE case_search_fts MATCH :match "
              "ORDER BY bm25(case_search_fts), rowid DESC LIMIT :limit OFFSET :offset",
    # The matches' ids are read once (see find), then ranked by primary key: no second pass over the GIN index.
    "postgresql": "SELECT instance_id FROM case_search, to_tsquery('simple', :match) AS query "
                  "WHERE instance_id = ANY(:ids) ORDER BY ts_rank(words_tsv, query) DESC, instance_id DESC "
                  "LIMIT :limit OFFSET :offset",
}
_MATCHING_IDS = ("SELECT instance_id FROM case_search WHERE words_tsv @@ to_tsquery('simple', :match) "
                 "LIMIT :cap")
# Newest first. SQLite's FTS5 reads its doclists in rowid order and stops at the page. On PostgreSQL the match is
# written as the function ts_match_vq (what @@ calls), which no index serves: the planner then walks the primary
# key backwards and tests each row, stopping at the page, instead of fetching every match through the GIN index
# and sorting them (this order is only asked for when more than RANK_MAX cases match, so the walk is short).
_NEWEST = {
    "sqlite": "SELECT rowid FROM case_search_fts WHERE case_search_fts MATCH :match AND rowid < :before "
              "ORDER BY rowid DESC LIMIT :limit OFFSET :offset",
    "postgresql": "SELECT instance_id FROM case_search WHERE instance_id < :before "
                  "AND ts_match_vq(words_tsv, to_tsquery('simple', :match)) ORDER BY instance_id DESC "
                  "LIMIT :limit OFFSET :offset",
}
_NO_ID_BEFORE = 2**62


def count(session: Session, q: str | None, filters: tuple[str, ...] = ()) -> tuple[int, bool]:
    """How many cases match ``q`` and ``filters``: (count, more than :data:`COUNT_MAX`)."""
    words = query_words(q)
    if not words:
        return 0, False
    dialect = session.get_bind().dialect.name
    counted = session.execute(sql(_COUNT[dialect]), {"match": _match_expression(dialect, words, filters),
                                                     "cap": COUNT_MAX + 1}).scalar_one()
    return min(counted, COUNT_MAX), counted > COUNT_MAX


def find(session: Session, q: str | None, *, filters: tuple[str, ...] = (), limit: int = 50, offset: int = 0,
         start: tuple[str, int] | None = None) -> Found | None:
    """One page of the cases matching ``q`` and ``filters`` in the default order: best match first when at most
    :data:`RANK_MAX` match, else newest first; from ``start`` (a :attr:`Found.next` of the page before), else
    after ``offset`` matches. None when ``q`` has no word."""
    words = query_words(q)
    if not words:
        return None
    dialect = session.get_bind().dialect.name
    expression = _match_expression(dialect, words, filters)
    matching: list[int] = []
    if dialect == "postgresql":  # counting fetches the ids anyway: keep them (at most COUNT_MAX + 1)
        matching = list(session.execute(sql(_MATCHING_IDS), {"match": expression, "cap": COUNT_MAX + 1}).scalars())
        total, more = min(len(matching), COUNT_MAX), len(matching) > COUNT_MAX
    else:
        total, more = count(session, q, filters)
    ranked = not more and total <= RANK_MAX
    if ranked:
        offset = start[1] if start and start[0] == "rank" else offset
        ids = list(session.execute(sql(_RANKED[dialect]), {"match": expression, "limit": limit + 1,
                                                           "offset": offset, "ids": matching}).scalars())
        following = ("rank", offset + limit) if len(ids) > limit else None
    else:
        before, offset = (start[1], 0) if start and start[0] == "before" else (_NO_ID_BEFORE, offset)
        ids = list(session.execute(sql(_NEWEST[dialect]), {"match": expression, "limit": limit + 1,
                                                           "before": before, "offset": offset}).scalars())
        following = ("before", ids[limit - 1]) if len(ids) > limit else None
    return Found(total, more, ranked, ids[:limit], following)


@dataclass(frozen=True)
class Snippet:
    """Where a query's words were found: which text (``field``: a role or a field id) and the words around them,
    as (text, found) parts to render with the found ones marked."""

    field: str
    parts: tuple[tuple[str, bool], ...]


def snippets(session: Session, instance_ids: Iterable[int], q: str | None) -> dict[int, Snippet]:
    """For each of ``instance_ids`` (a page of results), the part of its texts where ``q``'s words occur."""
    words = query_words(q)
    ids = list(instance_ids)
    if not words or not ids:
        return {}
    rows = session.execute(select(CaseSearch.instance_id, CaseSearch.fields)
                           .where(CaseSearch.instance_id.in_(ids))).all()
    out = {}
    for instance_id, raw in rows:
        found = snippet_of(json.loads(raw or "{}"), words)
        if found is not None:
            out[instance_id] = found
    return out


def snippet_of(fields: Mapping[str, str], words: list[str]) -> Snippet | None:
    """The first text (other than the title) in which one of ``words`` occurs (the last one as a prefix), cut to
    about :data:`SNIPPET_WIDTH` characters around it."""
    for key, value in fields.items():
        if key == TITLE:
            continue
        if value.isascii():  # none of the words in it as a substring: no need to read it word by word
            lowered = value.lower()
            if not any(w in lowered for w in words):
                continue
        spans = _found_spans(value, words)
        if spans:
            start = max(0, spans[0][0] - SNIPPET_WIDTH // 3)
            end = min(len(value), start + SNIPPET_WIDTH)
            parts: list[tuple[str, bool]] = [("\u2026", False)] if start else []
            at = start
            for s, e in spans:
                if s < at or e > end:
                    continue
                parts += [(value[at:s], False), (value[s:e], True)]
                at = e
            parts.append((value[at:end], False))
            if end < len(value):
                parts.append(("\u2026", False))
            return Snippet(key, tuple(p for p in parts if p[0]))
    return None


def _found_spans(value: str, words: list[str]) -> list[tuple[int, int]]:
    """Where ``words`` occur in ``value``, up to the end of the snippet the first one starts (no further)."""
    spans: list[tuple[int, int]] = []
    whole, prefix = set(words[:-1]), words[-1]
    for match in _WORD_RE.finditer(value):
        if spans and match.start() > spans[0][0] + SNIPPET_WIDTH:
            break
        word = match.group()
        # Most words are plain ASCII: lower-casing is all words_of would do to them (and ten times cheaper).
        word = word.lower() if word.isascii() else "".join(words_of(word))
        if word in whole or word.startswith(prefix):
            spans.append(match.span())
    return spans
