"""Shared by the two generated walks (tests/test_fuzz_api.py, tests/test_fuzz_html.py): the world they run in
(one user per role, cases waiting at every step, uploads) and the counters printed at the end of the run
(tests/conftest.py, ``pytest_terminal_summary``)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from process.files import store_file
from tests.factories import Case, make_users, png, user

#: Cases run by each walk, printed in the terminal summary (also with -q).
COUNTS: Counter[str] = Counter()
#: What each walk covered, e.g. "18 operations x 8 identities".
COVERAGE: dict[str, str] = {}

#: One login per role (tests/factories.py), and the ``admin`` role, which factories does not make.
ROLE_USERS = {"tim_pelaksana": "tim", "admin_medsos": "admin", "wapimred": "wapimred", "pimred": "pimred",
              "process_owner": "owner", "auditor": "auditor", "admin": "sysadmin"}


@dataclass
class World:
    case_ids: list[int] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)


def make_world(system, tx) -> World:
    """Users of every role, a case waiting at each of the five steps (and one finished), uploads."""
    make_users(system, tx)
    with tx() as s:
        system.people.add_user(s, "sysadmin", "rahasia-sysadmin", ["admin"])
    world = World()
    walks = [[], ["submit"], ["submit", "terima"], ["submit", "terima", "koreksi"],
             ["submit", "terima", "koreksi", "setuju"], ["submit", "terima", "koreksi", "tolak"]]
    who = {"submit": "tim", "terima": "admin", "koreksi": "wapimred", "setuju": "pimred", "tolak": "pimred"}
    for steps in walks:
        case = Case.start(system, tx, nama=f"Kegiatan {len(steps)}")
        for step in steps:
            case.do(who[step], step)
        world.case_ids.append(case.instance_id)
        world.task_ids.append(case.task_id)
    with tx() as s:  # the first case's step 1 held by its team, so the step form is read (and walked) too
        system.tasks.claim(s, user(s, "tim"), world.task_ids[0])
        for i in range(2):
            record = store_file(s, system.settings.files_dir, png((i * 90, 20, 20)), f"foto{i}.png",
                                uploaded_by="tim", now=system.clock.now(), max_image_bytes=10**7,
                                max_other_bytes=10**7)
            world.file_ids.append(record.id)
    return world
