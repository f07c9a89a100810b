"""Application roles, and the staff roles that groups replaced.

Who works a lane of a diagram is decided by groups (``app_group``, process/people.py; which lane each group works:
process/declarations.py :class:`LaneMap`). Roles are for the application itself: the process owner edits and deploys
diagrams, the auditor reads everything, the administrator manages accounts.
"""
from __future__ import annotations

from .errors import BadRequest

APP_ROLES = ("process_owner", "auditor", "admin")
#: Every role an account can hold (the staff roles of before groups are groups now).
ALL_ROLES = APP_ROLES
#: Roles that see every case whatever lanes their holder works.
VIEW_ALL_ROLES = frozenset(APP_ROLES)

ROLE_LABELS = {
    "process_owner": "Pemilik Proses",
    "auditor": "Auditor",
    "admin": "Administrator",
}

#: The four staff roles of before groups (migration 0006), each now the group of the same code, named as the lane of
#: the bundled diagram it worked. A script that still gives one as a role gets that group (deprecated).
LEGACY_GROUPS: dict[str, str] = {
    "tim_pelaksana": "Tim Pelaksana",
    "admin_medsos": "Admin Medsos",
    "wapimred": "Wakil Pimpinan Redaksi",
    "pimred": "Pimpinan Redaksi",
}


def check_role(role: str) -> str:
    if role not in ALL_ROLES:
        raise BadRequest(f"unknown role {role!r}", code="user.role_unknown", role=str(role)[:40],
                         roles=", ".join(ALL_ROLES))
    return role


def split_roles(roles) -> tuple[list[str], list[str]]:
    """``(application roles, groups)`` of a list of role names where a legacy staff role stands for its group."""
    app, groups = [], []
    for role in roles:
        (groups if role in LEGACY_GROUPS else app).append(role)
    return app, groups
