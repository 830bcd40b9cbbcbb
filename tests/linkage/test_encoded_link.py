"""``tiphub linkage encode`` then ``tiphub link --encoded``: FEBRL 4 linked without names."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.test_cli import tiphub
from tiphub.linkage import datasets
from tiphub.linkage.encoded_link import link_encoded_files
from tiphub.linkage.encoding import EncodingError


def test_febrl4_linked_on_encodings_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'unused.db'}"
    secret = tmp_path / "key.txt"
    secret.write_text("a shared secret of the two agencies, 2026", encoding="utf-8")
    encoded = []
    frames = datasets.febrl_records("febrl4")
    for frame, name in zip(frames, ("a", "b"), strict=True):
        plain = tmp_path / f"{name}.csv"
        frame.to_csv(plain, index=False)
        out = tmp_path / f"{name}.enc.csv"
        done = tiphub(
            url, "linkage", "encode", str(plain), "--secret-file", str(secret), "--output", str(out)
        )
        assert done.returncode == 0, done.stderr
        text = out.read_text(encoding="utf-8")
        # Long surnames only: short letter runs turn up in base64 by chance.
        surnames = [name for name in frame["family_name"].dropna() if len(name) >= 9][:200]
        assert surnames and not any(surname in text for surname in surnames)
        encoded.append(out)
    truth = datasets.febrl_truth(pd.concat(frames, ignore_index=True))
    truth_path = tmp_path / "truth.csv"
    truth.to_csv(truth_path, index=False)
    clusters = tmp_path / "clusters.csv"
    done = tiphub(
        url,
        "link",
        *map(str, encoded),
        "--encoded",
        "--output",
        str(clusters),
        "--truth",
        str(truth_path),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    evaluation = json.loads(done.stdout)["evaluation"]
    assert evaluation["f1"] >= 0.998, evaluation
    assert 0.99 <= evaluation["precision_over_recall"] <= 1.01, evaluation


def test_files_from_different_secrets_are_refused(tmp_path: Path) -> None:
    from tiphub.linkage.encoding import encode

    frame = datasets.febrl_records("febrl4")[0].head(50)
    for name, key in (("a", b"first secret of sixteen+"), ("b", b"second secret, also long")):
        encode(frame.assign(record_id=frame["record_id"] + name), key).write_csv(tmp_path / name)
    with pytest.raises(EncodingError, match="different scheme or secret"):
        link_encoded_files([tmp_path / "a", tmp_path / "b"])
