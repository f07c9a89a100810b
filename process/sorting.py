"""How the inbox and the case list may be ordered: ``sort`` (what by) and ``order`` (``asc`` or ``desc``), as the
query parameters of the pages and the API name them. Each list orders by its key, rows without a value (a task
without a deadline, a case without an activity date) last in either direction, then by id in the same direction:
a total, stable order (what a keyset page would continue from)."""
from __future__ import annotations

from dataclasses import dataclass

from .errors import BadRequest

#: What a list may be ordered by: the deadline (of the task; of a case, its earliest waiting step's), the last
#: change of the case, its activity date (``tanggal_kegiatan``); the case list also by when the case was opened and,
#: with a search, by how well it matches.
DEADLINE, CHANGED, ACTIVITY_DATE, CREATED, RELEVANCE = "deadline", "changed", "activity_date", "created", "relevance"
ORDERS = ("asc", "desc")
SORTS = {
    "inbox": (DEADLINE, CHANGED, ACTIVITY_DATE),
    "cases": (CREATED, DEADLINE, CHANGED, ACTIVITY_DATE, RELEVANCE),
}
#: The order of each key when none is given: the nearest deadline first, the newest first otherwise.
DEFAULT_ORDER = {DEADLINE: "asc", CHANGED: "desc", ACTIVITY_DATE: "desc", CREATED: "desc", RELEVANCE: "desc"}


@dataclass(frozen=True)
class Sort:
    key: str
    order: str

    @property
    def descending(self) -> bool:
        return self.order == "desc"


def parse_sort(view: str, sort: str | None, order: str | None, *, default: str) -> Sort:
    """The order asked for a list (``view``: inbox or cases); ``default`` when ``sort`` is empty. An unknown key or
    order is a 422 naming what may be chosen."""
    key = (sort or "").strip() or default
    if key not in SORTS[view]:
        raise BadRequest(f"unknown sort {key[:40]!r}", code="sort.unknown", value=key[:40],
                         options=list(SORTS[view]))
    direction = (order or "").strip() or DEFAULT_ORDER[key]
    if direction not in ORDERS:
        raise BadRequest(f"unknown order {direction[:40]!r}", code="sort.order_unknown", value=direction[:40],
                         options=list(ORDERS))
    return Sort(key, direction)
