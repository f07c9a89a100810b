"""Roles and the BPMN lanes they work in. Lane names in the diagram are the contract."""
from __future__ import annotations

ROLE_LANES: dict[str, str] = {
    "tim_pelaksana": "Tim Pelaksana",
    "admin_medsos": "Admin Medsos",
    "wapimred": "Wakil Pimpinan Redaksi",
    "pimred": "Pimpinan Redaksi",
}
LANE_ROLES: dict[str, str] = {lane: role for role, lane in ROLE_LANES.items()}

STAFF_ROLES = tuple(ROLE_LANES)
OTHER_ROLES = ("process_owner", "auditor", "admin")
ALL_ROLES = STAFF_ROLES + OTHER_ROLES

ROLE_LABELS = {
    "tim_pelaksana": "Tim Pelaksana",
    "admin_medsos": "Admin Media Sosial",
    "wapimred": "Wakil Pimpinan Redaksi",
    "pimred": "Pimpinan Redaksi",
    "process_owner": "Pemilik Proses",
    "auditor": "Auditor",
    "admin": "Administrator",
}


def lanes_of(roles) -> set[str]:
    return {ROLE_LANES[r] for r in roles if r in ROLE_LANES}


def check_role(role: str) -> str:
    if role not in ALL_ROLES:
        raise ValueError(f"peran tidak dikenal: {role!r} (pilihan: {', '.join(ALL_ROLES)})")
    return role
