"""Where tiphub keeps its data: ``TIPHUB_DATABASE_URL``, else a SQLite file in the data folder.

The data folder is ``TIPHUB_DATA_DIR`` when set, else ``$XDG_DATA_HOME/tiphub``
(``~/.local/share/tiphub``).
"""

from __future__ import annotations

import os
from pathlib import Path

from tiphub.files import make_private_dir


def data_dir() -> Path:
    explicit = os.environ.get("TIPHUB_DATA_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tiphub"


def database_url() -> str:
    url = os.environ.get("TIPHUB_DATABASE_URL")
    if url:
        return normalise_url(url)
    folder = make_private_dir(data_dir())
    return f"sqlite:///{folder / 'tiphub.db'}"


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use the psycopg 3 driver that tiphub installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
