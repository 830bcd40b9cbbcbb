"""Writing linkage outputs: 0600, staged, and whole or not at all.

Every file is written to a staging path in this run's private folder and moved over the
destination only when complete (``tiphub.files.staged_file``), so a run that fails or is
killed leaves neither a half-written file nor a readable copy beside the destination.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tiphub.files import staged_file, write_private_text


def write_text(path: Path, text: str) -> None:
    with staged_file(Path(path)) as staged:
        write_private_text(staged, text)


def write_frame_csv(path: Path, frame: pd.DataFrame) -> None:
    with staged_file(Path(path)) as staged:
        frame.to_csv(staged, index=False, lineterminator="\n")
