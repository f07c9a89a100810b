"""Small pieces of `alur bench`'s issue-19 parts that need no stack (the parts themselves run in
tests/test_cli.py::test_bench_quick_writes_its_figures)."""
from __future__ import annotations

import os

import pytest

from bench import idle, wholecase


@pytest.mark.nodb
def test_cpu_seconds_reads_this_process():
    assert idle.cpu_seconds(os.getpid()) > 0
    assert idle.cpu_seconds(2 ** 22 + 12345) is None  # no such process


@pytest.mark.nodb
def test_the_inbox_comes_bare_or_as_a_page():
    rows = [{"id": "a"}]
    assert wholecase._items(rows) == rows
    assert wholecase._items({"items": rows, "total": 1, "next_cursor": None}) == rows


@pytest.mark.nodb
def test_photos_differ_per_number():
    assert len({wholecase._png(n) for n in range(300)}) == 300
