"""Searching many cases: the case list with ``q`` (process/casefile.py, process/search.py) on a database of
``n`` cases whose searchable texts were written in bulk.

The shortcut, stated in the output too: the cases are not run through the workflow. Each is an instance row
(title, activity date, team; an empty state: nothing acts on it) and its ``case_search`` row, inserted with plain
SQL many rows per statement: a name (an activity and a place), a register number, a place, a caption (8 to 20
words, a hashtag or two) and a narrative (40 to 90 words), drawn from a vocabulary of about 2,300 words with
Zipf-like frequencies (a few very common, most rare), as the case list's search reads them. The index (FTS5 on
SQLite, the tsvector's GIN index on PostgreSQL) is kept by the same triggers and generated column as in use.

What is timed is one call of :func:`process.casefile.case_list` with ``q`` (first page of 50: the matches the user
may see, counted, ranked, with their register numbers, waiting steps and snippets), half as an auditor (every
case), half as a member of one of 20 teams (team-scoped lanes: its own team's cases). The queries are made from
the texts of a random case as a person would type them: one to three of its words that are not function words
("dan", "di", "yang" ...), the last one often cut to a prefix of three or more letters; one in ten is the case's
register number. Apart from that mix, ``search_broad_ms`` is the median of a search for a word that a fifth of all
cases contain (the slowest kind: every match is counted and ranked).
"""
from __future__ import annotations

import json
import random
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from engine.db import transaction
from engine.models import Instance
from process import search
from process.casefile import case_list
from process.models import CaseSearch, User

from .common import START, Timings, bench_system

SHORTCUT = ("search: instance rows and their search rows inserted with SQL (no workflow, no events); texts drawn "
            "from a Zipf-like vocabulary of about 2,300 words")
BATCH = 2000
TEAMS = tuple(f"tim{k:02d}" for k in range(1, 21))
PLACES = ("Padang", "Bukittinggi", "Payakumbuh", "Solok", "Sawahlunto", "Padang Panjang", "Pariaman",
          "Agam", "Pasaman", "Pasaman Barat", "Lima Puluh Kota", "Tanah Datar", "Padang Pariaman",
          "Pesisir Selatan", "Sijunjung", "Dharmasraya", "Solok Selatan", "Kepulauan Mentawai", "Kota Solok")
ACTIVITIES = ("Sosialisasi pendidikan pemilih", "Rapat koordinasi tahapan", "Bimbingan teknis KPPS",
              "Uji publik daerah pemilihan", "Pemutakhiran data pemilih", "Kunjungan kerja",
              "Diskusi kelompok terpumpun", "Peluncuran maskot pemilihan", "Rapat pleno rekapitulasi",
              "Simulasi pemungutan suara", "Jalan sehat pemilu damai", "Lomba video kreatif")
FUNCTION_WORDS = ("dan", "di", "yang", "untuk", "dengan", "dari", "ke", "pada", "oleh", "dalam", "ini", "itu",
                  "serta", "bagi", "para", "akan", "telah", "juga", "sebagai", "agar")
COMMON = ("kpu", "provinsi", "sumatera", "barat", "pemilih", "pemilu", "pemilihan", "kegiatan", "masyarakat",
          "sosialisasi", "tahapan", "penyelenggara", "kabupaten", "kota", "daerah", "partisipasi", "warga",
          "komisioner", "ketua", "anggota", "divisi", "teknis", "data", "suara", "tps", "kpps", "ppk", "pps",
          "pemungutan", "penghitungan", "rekapitulasi", "calon", "kampanye", "pengawas", "bawaslu", "relawan",
          "demokrasi", "pelajar", "mahasiswa", "pemula", "disabilitas", "perempuan", "tokoh", "adat", "agama",
          "nagari", "wali", "camat", "bupati", "gubernur", "kantor", "aula", "hotel", "gedung", "lapangan",
          "sekolah", "kampus", "masjid", "pasar", "media", "sosial", "konten", "video", "foto", "berita",
          "informasi", "publik", "hoaks", "literasi", "digital", "damai", "jujur", "adil", "langsung", "umum",
          "bebas", "rahasia", "integritas", "netralitas", "logistik", "surat", "kotak", "bilik", "tinta",
          "daftar", "tetap", "sementara", "pindahan", "tambahan", "coklit", "verifikasi", "faktual",
          "administrasi", "dokumen", "syarat", "pencalonan", "dukungan", "perseorangan", "partai", "politik")
SYLLABLES = ("ba", "ka", "ta", "ma", "na", "ra", "sa", "la", "pa", "da", "ga", "ja", "wa", "ya", "ha", "bi", "ki",
             "ti", "mi", "ni", "ri", "si", "li", "pi", "di", "gu", "ju", "ku", "lu", "mu", "nu", "ru", "su", "tu",
             "be", "ke", "te", "me", "ne", "re", "se", "le", "pe", "de", "ng", "an", "in", "un", "ang", "ung")


def _vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Words and Zipf weights: function words first (most frequent), the commission's common words, then about
    2,100 rarer made-up Indonesian-looking words."""
    rare = set()
    while len(rare) < 2100:
        rare.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    words = [*FUNCTION_WORDS, *COMMON, *sorted(rare)]
    return words, [1 / (rank + 1) for rank in range(len(words))]


class _Texts:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.words, weights = _vocabulary(self.rng)
        self.cumulative = []
        total = 0.0
        for w in weights:
            total += w
            self.cumulative.append(total)

    def sentence(self, low: int, high: int) -> str:
        chosen = self.rng.choices(self.words, cum_weights=self.cumulative, k=self.rng.randint(low, high))
        return " ".join(chosen).capitalize() + "."

    def case(self, n: int) -> tuple[str, str, dict[str, str]]:
        rng = self.rng
        place = rng.choice(PLACES)
        title = f"{rng.choice(ACTIVITIES)} di {place}"
        caption = self.sentence(8, 20) + " #KPUSumbar" + (f" #{rng.choice(COMMON).capitalize()}" if n % 2 else "")
        narasi = " ".join(self.sentence(8, 18) for _ in range(rng.randint(4, 6)))
        fields = {search.TITLE: title, search.REGISTER: f"{n:05d}/REG-MEDSOS/2025", search.PLACE: place,
                  "narasi": narasi, "caption": caption}
        return title, place, fields


def seed(system, n: int, *, log=print) -> dict:
    """``n`` cases with their search rows; the two users the queries run as."""
    texts = _Texts(2025)
    with transaction(system.sessions) as session:
        definition = system.cases.ensure_definition(session)
        definition_id, process_key = definition.id, definition.process_key
        system.people.team(session, TEAMS[0], create=True, name="Tim 01")
        auditor = system.people.add_user(session, "bench_auditor", "rahasia-bench-2025", ("auditor",))
        member = system.people.add_user(session, "bench_tim", "rahasia-bench-2025", ("tim_pelaksana",),
                                        team_code=TEAMS[0])
        users = {"auditor": auditor.id, "team": member.id}
    started = time.perf_counter()
    for first in range(1, n + 1, BATCH):
        instances, rows = [], []
        for i in range(first, min(n + 1, first + BATCH)):
            title, _place, fields = texts.case(i)
            at = START + timedelta(minutes=7 * i)
            instances.append({"id": i, "definition_id": definition_id, "status": "running", "state": "{}",
                              "serializer_version": "bench", "lock_version": 1, "title": title,
                              "business_date": date(2025, 1, 1) + timedelta(days=i % 365), "group": TEAMS[i % 20],
                              "created_by": "bench", "created_at": at, "updated_at": at})
            rows.append({"instance_id": i, "fields": json.dumps(fields, ensure_ascii=False),
                         "words": search.indexed_words(fields, TEAMS[i % 20], process_key),
                         "updated_at": at})
        with transaction(system.sessions) as session:
            session.execute(insert(Instance.__table__), instances)
            session.execute(insert(CaseSearch.__table__), rows)
    if system.db.dialect.name == "postgresql":
        with system.db.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    log(f"  {n:,} searchable cases written in {time.perf_counter() - started:.0f} s")
    return users


def _queries(system, n: int, count: int, rng: random.Random) -> list[str]:
    """Queries as people type them, from the texts of random cases."""
    out = []
    with system.readers() as session:
        for _ in range(count):
            fields = json.loads(session.execute(select(CaseSearch.fields).where(
                CaseSearch.instance_id == rng.randint(1, n))).scalar_one())
            if rng.random() < 0.1:
                out.append(fields[search.REGISTER])
                continue
            words = [w for w in search.words_of(" ".join(fields.values())) if w not in FUNCTION_WORDS and len(w) > 2]
            chosen = rng.sample(words, k=min(len(words), rng.choice((1, 1, 2, 2, 3))))
            if rng.random() < 0.5 and len(chosen[-1]) > 4:
                chosen[-1] = chosen[-1][:rng.randint(3, len(chosen[-1]) - 1)]
            out.append(" ".join(chosen))
    return out


def _broad_word(system, n: int) -> str:
    """A word about a fifth of the cases contain."""
    with system.readers() as session:
        for word in COMMON:
            hits = search.matches(session, word)
            count = session.execute(select(func.count()).select_from(hits)).scalar_one()
            if 0.15 * n <= count <= 0.3 * n:
                return word
    return COMMON[0]


def run(workdir: Path, url: str, n: int, *, quick: bool, log=print) -> dict:
    workdir.mkdir(parents=True, exist_ok=True)
    system, _clock = bench_system(workdir, url)
    try:
        users = seed(system, n, log=log)
        rng = random.Random(7)
        queries = _queries(system, n, 60 if quick else 300, rng)
        timings, totals = Timings(), []
        with system.readers() as session:
            people = {k: session.get(User, v) for k, v in users.items()}
            for q in queries[:10]:  # warm-up: the page cache and the rulebook
                case_list(session, people["auditor"], system.rules, q=q)
            for k, q in enumerate(queries):
                who = people["auditor" if k % 2 else "team"]
                with timings():
                    page = case_list(session, who, system.rules, q=q)
                totals.append(page.total)
            broad = _broad_word(system, n)
            broad_timings = Timings()
            for _ in range(5 if quick else 15):
                with broad_timings():
                    page = case_list(session, people["auditor"], system.rules, q=broad)
            broad_total = page.total
        totals.sort()
        return {"search_cases": n, "search_queries": len(queries), "search_p50_ms": round(timings.median_ms(), 2),
                "search_p95_ms": round(timings.p_ms(95), 2), "search_median_matches": totals[len(totals) // 2],
                "search_broad_word": broad, "search_broad_matches": broad_total,
                "search_broad_ms": round(broad_timings.median_ms(), 2)}
    finally:
        system.db.dispose()
