"""Evidence bundles: written whole and private, and every kind of tampering detected."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tiphub.online.ads import CustodyEvent, EvidenceItem
from tiphub.online.evidence import (
    BUNDLE_FORMAT,
    EvidenceError,
    verify_bundle,
    write_bundle,
)

KEY = b"synthetic signing key for tests"
EXPORTED_AT = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)
SECRET_TEXT = b"Call Synthetic Recruiter on +44 7700 900123 for work abroad"


def _item(ad_id: str, original: bytes, sha256: str | None = None) -> EvidenceItem:
    captured = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    return EvidenceItem(
        ad_id=ad_id,
        organisation="demo-labour",
        sha256=sha256 or hashlib.sha256(original).hexdigest(),
        original=original,
        media_type="text/csv",
        source="ads.csv",
        row=2,
        seen_at=dt.datetime(2026, 11, 29, 17, 5, tzinfo=dt.UTC),
        captured_at=captured,
        captured_by="inspector@demo-labour",
        custody=(
            CustodyEvent(captured, "inspector@demo-labour", "captured"),
            CustodyEvent(captured, "inspector@demo-labour", "flagged", "indicators: 3"),
        ),
    )


ITEMS = (
    _item("ad-1", SECRET_TEXT),
    _item("ad-2", b"<html><body>Work in a warehouse</body></html>"),
    _item("ad-3", SECRET_TEXT),  # the same bytes seen twice: one file, two items
)


def _bundle(tmp_path: Path, key: bytes | None = KEY) -> Path:
    path = tmp_path / "out" / "bundle.zip"
    write_bundle(ITEMS, path, "inspector@demo-labour", key, exported_at=EXPORTED_AT)
    return path


def _rewrite(
    path: Path, change: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]
) -> None:
    """Rebuild the ZIP with its members changed, as someone editing a bundle would."""
    with zipfile.ZipFile(path) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in change(members):
            archive.writestr(zipfile.ZipInfo(name), data)


def _replace(name: str, new: Callable[[bytes], bytes]) -> Callable[..., list[tuple[str, bytes]]]:
    return lambda members: [(n, new(d) if n == name else d) for n, d in members]


def test_round_trip(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    check = verify_bundle(path, KEY)
    assert check.ok, check.problems
    assert check.items == 3
    assert check.signature == "valid"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        manifest_bytes = archive.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        assert archive.read("manifest.sha256").decode().split()[0] == check.manifest_sha256
        assert hashlib.sha256(manifest_bytes).hexdigest() == check.manifest_sha256
        sha = hashlib.sha256(SECRET_TEXT).hexdigest()
        assert archive.read(f"items/{sha}") == SECRET_TEXT
        assert "sha256sum -c manifest.sha256" in archive.read("README.txt").decode()
    assert names[:4] == ["README.txt", "manifest.json", "manifest.sha256", "manifest.hmac"]
    assert len([name for name in names if name.startswith("items/")]) == 2
    assert manifest["format"] == BUNDLE_FORMAT
    assert manifest["exported_by"] == "inspector@demo-labour"
    first = manifest["items"][0]
    assert first["ad_id"] == "ad-1" and first["size"] == len(SECRET_TEXT)
    assert first["file"] == f"items/{first['sha256']}"
    assert [event["action"] for event in first["custody"]] == ["captured", "flagged"]


def test_same_items_same_moment_give_same_bytes(tmp_path: Path) -> None:
    first = tmp_path / "a.zip"
    second = tmp_path / "b.zip"
    write_bundle(ITEMS, first, "x", KEY, exported_at=EXPORTED_AT)
    write_bundle(list(reversed(ITEMS)), second, "x", KEY, exported_at=EXPORTED_AT)
    assert first.read_bytes() == second.read_bytes()


def test_unsigned_bundle_says_so(tmp_path: Path) -> None:
    path = _bundle(tmp_path, key=None)
    check = verify_bundle(path)
    assert check.ok and check.signature == "not signed"
    with_key = verify_bundle(path, KEY)
    assert not with_key.ok
    assert any("manifest.hmac: missing" in problem for problem in with_key.problems)


def test_signed_bundle_without_key_is_not_checked(tmp_path: Path) -> None:
    check = verify_bundle(_bundle(tmp_path))
    assert check.ok and check.signature == "not checked"


def test_item_whose_bytes_do_not_match_is_refused(tmp_path: Path) -> None:
    bad = _item("ad-9", b"altered bytes", sha256=hashlib.sha256(b"original").hexdigest())
    path = tmp_path / "bundle.zip"
    with pytest.raises(EvidenceError, match="item 2"):
        write_bundle([ITEMS[0], bad], path, "x")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def _only_problem(path: Path, key: bytes | None = KEY) -> str:
    check = verify_bundle(path, key)
    assert not check.ok
    assert len(check.problems) == 1, check.problems
    assert "Synthetic Recruiter" not in check.problems[0]
    return check.problems[0]


def test_one_altered_item_byte(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    sha = hashlib.sha256(SECRET_TEXT).hexdigest()
    _rewrite(path, _replace(f"items/{sha}", lambda data: data.replace(b"Call", b"Cali")))
    assert _only_problem(path) == f"items/{sha}: SHA-256 does not match (the bytes were altered)"


def test_altered_byte_in_place_fails_crc(tmp_path: Path) -> None:
    path = _bundle(tmp_path, key=None)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("items/" + hashlib.sha256(SECRET_TEXT).hexdigest())
    raw = bytearray(path.read_bytes())
    # A byte flipped inside the archive without rebuilding it: the CRC-32 no longer holds.
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 2
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))
    check = verify_bundle(path)
    assert not check.ok
    assert any(problem.startswith(f"{info.filename}: ") for problem in check.problems)


def test_altered_manifest(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    _rewrite(path, _replace("manifest.json", lambda data: data.replace(b"ad-2", b"ad-7")))
    check = verify_bundle(path, KEY)
    assert not check.ok
    assert "manifest.json: SHA-256 does not match manifest.sha256 (manifest altered)" in (
        check.problems
    )
    assert check.signature == "invalid"


def test_altered_manifest_with_recomputed_digest_is_caught_by_signature(tmp_path: Path) -> None:
    path = _bundle(tmp_path)

    def forge(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        manifest = dict(members)["manifest.json"].replace(b"inspector@", b"impostor@")
        digest = f"{hashlib.sha256(manifest).hexdigest()}  manifest.json\n".encode()
        swap = {"manifest.json": manifest, "manifest.sha256": digest}
        return [(name, swap.get(name, data)) for name, data in members]

    _rewrite(path, forge)
    assert _only_problem(path).startswith("manifest.hmac: signature does not match")
    assert verify_bundle(path).ok  # without the key only the digest can be checked


def test_added_member(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    _rewrite(path, lambda members: [*members, ("items/extra.txt", b"planted")])
    assert _only_problem(path) == "items/extra.txt: not listed in the manifest"


def test_removed_member(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    sha = hashlib.sha256(ITEMS[1].original).hexdigest()
    _rewrite(path, lambda members: [(n, d) for n, d in members if n != f"items/{sha}"])
    assert _only_problem(path) == f"items/{sha}: listed in the manifest but missing"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../home/evil.sh", "path traversal"),
        ("items/../../evil.sh", "path traversal"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil.dll", "absolute path"),
    ],
)
def test_zip_slip_member(tmp_path: Path, name: str, reason: str) -> None:
    path = _bundle(tmp_path)
    _rewrite(path, lambda members: [*members, (name, b"#!/bin/sh\n")])
    assert _only_problem(path) == f"{name}: unsafe member name ({reason})"


def test_wrong_key(tmp_path: Path) -> None:
    path = _bundle(tmp_path)
    problem = _only_problem(path, key=b"another key")
    assert problem == (
        "manifest.hmac: signature does not match (wrong key, or the manifest altered)"
    )
    assert verify_bundle(path, b"another key").signature == "invalid"


def test_declared_size_over_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _bundle(tmp_path)
    monkeypatch.setattr("tiphub.online.evidence.MAX_MEMBER_BYTES", 20)
    check = verify_bundle(path, KEY)
    assert not check.ok
    assert any("larger than the" in problem for problem in check.problems)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"not a zip at all")
    check = verify_bundle(path)
    assert not check.ok and check.problems == ["bundle.zip: not a readable ZIP file"]
