"""Settings of the SOP layer. Values come from the caller (the app or the CLI read the environment)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PLATFORMS = ("Instagram", "Facebook", "X", "YouTube", "TikTok")

#: Caption limits per platform (characters), shown live while typing.
DEFAULT_CAPTION_LIMITS = {"Instagram": 2200, "Facebook": 63206, "X": 280, "YouTube": 5000, "TikTok": 2200}


@dataclass(frozen=True)
class Settings:
    database_url: str
    files_dir: Path
    process_key: str = "alur_pengunggahan"
    diagram_path: Path = Path(__file__).resolve().parents[1] / "bpmn" / "alur_pengunggahan.bpmn"
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    caption_limits: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPTION_LIMITS))
    #: ``{seq}``, ``{month_roman}``, ``{month}``, ``{year}`` are filled in.
    register_format: str = "{seq:03d}/REG-MEDSOS/{month_roman}/{year}"
    max_image_bytes: int = 25 * 1024 * 1024
    max_other_bytes: int = 200 * 1024 * 1024

    @classmethod
    def from_env(cls, instance_dir: Path | None = None, env: dict | None = None) -> Settings:
        env = os.environ if env is None else env
        instance_dir = Path(env.get("ALUR_INSTANCE_DIR") or instance_dir or Path.cwd() / "instance")
        url = env.get("ALUR_DATABASE_URL") or f"sqlite:///{instance_dir / 'alur.db'}"
        platforms = tuple(p.strip() for p in env.get("ALUR_PLATFORMS", "").split(",") if p.strip())
        kwargs = {}
        if platforms:
            kwargs["platforms"] = platforms
        if env.get("ALUR_REGISTER_FORMAT"):
            kwargs["register_format"] = env["ALUR_REGISTER_FORMAT"]
        if env.get("ALUR_MAX_IMAGE_MB"):
            kwargs["max_image_bytes"] = int(float(env["ALUR_MAX_IMAGE_MB"]) * 1024 * 1024)
        if env.get("ALUR_MAX_FILE_MB"):
            kwargs["max_other_bytes"] = int(float(env["ALUR_MAX_FILE_MB"]) * 1024 * 1024)
        files_dir = Path(env.get("ALUR_FILES_DIR") or instance_dir / "files")
        return cls(database_url=url, files_dir=files_dir, **kwargs)
