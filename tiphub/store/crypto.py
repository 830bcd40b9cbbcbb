"""Application-level encryption of identity values (AES-256-GCM) and keyed blind indexes.

Survivors' names, birth dates, identifiers, contact details, addresses and free text are
sealed before they reach the database, so a stolen database file alone reveals none of
them. Keys live in a key file (or ``TIPHUB_KEYS``), never in the database; the database
only records each key's fingerprint so that a missing or wrong key file is recognised
instead of silently producing a second, incompatible key.

A sealed value is ``tph1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``; the column's
name is the associated data, so a ciphertext moved to another column does not decrypt.
Exact-match search uses a blind index: HMAC-SHA256 of the normalised value under a separate
index key, truncated to 128 bits.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from tiphub.files import open_private

PREFIX = "tph1"
KEY_FILE_FORMAT = "tiphub-keys-1"
KEY_FILE_NAME = "tiphub.keys"
CHECK_MESSAGE = b"tiphub key check"


class KeyProblem(Exception):  # noqa: N818 - the brief and callers name it so
    """Base of the key problems a user can fix (kept apart from the built-in KeyError)."""


class KeyFileMissingError(KeyProblem):
    pass


class KeyMismatchError(KeyProblem):
    pass


class DecryptionError(KeyProblem):
    pass


def key_file_path() -> Path:
    environ = os.environ
    return _key_file_path(
        environ.get("TIPHUB_KEY_FILE"),
        environ.get("TIPHUB_DATA_DIR"),
        environ.get("XDG_DATA_HOME"),
        environ.get("HOME"),
    )


@lru_cache(maxsize=16)
def _key_file_path(
    explicit: str | None, _data_dir: str | None, _data_home: str | None, _home: str | None
) -> Path:
    """Keyed by every variable the path depends on: reading a sealed value asks for the
    path each time, and building it costs more than opening the value."""
    if explicit:
        return Path(explicit)
    from tiphub.store.config import data_dir

    return data_dir() / KEY_FILE_NAME


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Keyring:
    """The encryption keys by id (the primary one seals new values) and the index key."""

    primary: str
    encryption_keys: dict[str, bytes]
    index_key: bytes
    source: str = ""
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    @classmethod
    def generate(cls) -> Keyring:
        key_id = "k" + secrets.token_hex(4)
        return cls(key_id, {key_id: AESGCM.generate_key(256)}, secrets.token_bytes(32))

    @classmethod
    def from_json(cls, text: str, source: str) -> Keyring:
        try:
            data = json.loads(text)
            if data.get("format") != KEY_FILE_FORMAT:
                raise ValueError("unknown format")
            keys = {str(k): _unb64(v) for k, v in data["encryption_keys"].items()}
            ring = cls(str(data["primary"]), keys, _unb64(data["index_key"]), source)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise KeyMismatchError(
                f"{source} is not a tiphub key file ({type(error).__name__}); "
                "restore the key file from your backup"
            ) from None
        if ring.primary not in keys or any(len(k) != 32 for k in keys.values()):
            raise KeyMismatchError(f"{source} is damaged: a key is missing or has the wrong size")
        return ring

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": KEY_FILE_FORMAT,
                "primary": self.primary,
                "encryption_keys": {k: _b64(v) for k, v in self.encryption_keys.items()},
                "index_key": _b64(self.index_key),
            },
            indent=2,
        )

    def fingerprint(self, key_id: str) -> str:
        return hmac.new(self.encryption_keys[key_id], CHECK_MESSAGE, hashlib.sha256).hexdigest()

    def index_fingerprint(self) -> str:
        return hmac.new(self.index_key, CHECK_MESSAGE, hashlib.sha256).hexdigest()

    def _cipher(self, key_id: str) -> AESGCM:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            cipher = self._ciphers[key_id] = AESGCM(self.encryption_keys[key_id])
        return cipher

    def seal(self, plaintext: bytes, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._cipher(self.primary).encrypt(nonce, plaintext, context.encode())
        return f"{PREFIX}:{self.primary}:{_b64(nonce + sealed)}"

    def key_id_of(self, token: str) -> str:
        parts = token.split(":", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise DecryptionError("a stored value is not sealed by tiphub")
        return parts[1]

    def open(self, token: str, context: str) -> bytes:
        key_id = self.key_id_of(token)
        if key_id not in self.encryption_keys:
            raise KeyMismatchError(
                f"a stored value is sealed with key {key_id}, which the key file {self.source} "
                "does not hold; restore the key file that belongs to this database"
            )
        blob = _unb64(token.split(":", 2)[2])
        try:
            return self._cipher(key_id).decrypt(blob[:12], blob[12:], context.encode())
        except InvalidTag:
            raise DecryptionError(
                f"a stored value in {context} failed its integrity check (changed outside tiphub)"
            ) from None

    def blind_index(self, context: str, value: str) -> str:
        normalised = normalise_for_index(value)
        digest = hmac.new(
            self.index_key, f"{context}\0{normalised}".encode(), hashlib.sha256
        ).hexdigest()
        return digest[:32]


def normalise_for_index(value: str) -> str:
    """Case, accents and spacing do not matter to an exact-match search."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.split())


KEY_FILE_RECHECK_SECONDS = 1.0
_lock = threading.Lock()
_cache: dict[str, tuple[int, Keyring]] = {}
_last_check: dict[str, float] = {}


def _environment_keys() -> str | None:
    return os.environ.get("TIPHUB_KEYS")


def load_keyring(create: bool = False) -> tuple[Keyring, bool]:
    """The keyring of this process's configuration, and whether it was created just now.

    ``TIPHUB_KEYS`` (the key file's JSON) wins over the key file; the key file is created
    only when ``create`` is true, i.e. for a database that holds no sealed value yet.
    """
    inline = _environment_keys()
    if inline:
        cached = _cache.get("env")
        if cached is None or cached[1].source != "TIPHUB_KEYS":
            _cache["env"] = (0, Keyring.from_json(inline, "TIPHUB_KEYS"))
        return _cache["env"][1], False
    path = key_file_path()
    now = time.monotonic()
    cached = _cache.get(str(path))
    if cached is not None and now - _last_check.get(str(path), 0.0) < KEY_FILE_RECHECK_SECONDS:
        return cached[1], False
    with _lock:
        _last_check[str(path)] = now
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            if not create:
                raise KeyFileMissingError(
                    f"the key file {path} does not exist; tiphub cannot read the names it "
                    "stored without it. Restore it from your backup, or point TIPHUB_KEY_FILE "
                    "at it"
                ) from None
            ring = Keyring.generate()
            ring.source = str(path)
            _write_key_file(path, ring.to_json())
            stamp = path.stat().st_mtime_ns
            _cache[str(path)] = (stamp, ring)
            return ring, True
        cached = _cache.get(str(path))
        if cached is not None and cached[0] == stamp:
            return cached[1], False
        ring = Keyring.from_json(path.read_text(encoding="utf-8"), str(path))
        _cache[str(path)] = (stamp, ring)
        return ring, False


def keyring() -> Keyring:
    return load_keyring(create=False)[0]


def loaded_keyring() -> Keyring | None:
    """The keyring this process holds (re-read if its file changed), or None before the
    first load: a database check then decides whether a key file may be created."""
    if not _environment_keys() and str(key_file_path()) not in _cache:
        return None
    return keyring()


def forget_cached_keys() -> None:
    with _lock:
        _cache.clear()
        _last_check.clear()


def save_keyring(ring: Keyring) -> None:
    if _environment_keys():
        raise KeyMismatchError(
            "the keys come from TIPHUB_KEYS; rotate them by writing a key file and setting "
            "TIPHUB_KEY_FILE instead"
        )
    path = key_file_path()
    _write_key_file(path, ring.to_json())
    forget_cached_keys()


def _write_key_file(path: Path, text: str) -> None:
    """Write the key file whole or not at all: a reader never sees it half-written, and a
    crash while rotating leaves the previous keys, not an empty file (which would make every
    sealed value unreadable)."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open_private(staging, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def blind_index(context: str, value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    return keyring().blind_index(context, str(value))


# -- column types ---------------------------------------------------------------------------


def encode_plain(kind: str, value: Any) -> bytes:
    if kind == "bytes":
        return bytes(value)
    if kind == "str":
        return str(value).encode()
    if kind == "date":
        return (value.isoformat() if isinstance(value, dt.date) else str(value)).encode()
    if kind == "float":
        return repr(float(value)).encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def decode_plain(kind: str, raw: bytes) -> Any:
    if kind == "bytes":
        return raw
    text = raw.decode()
    if kind == "str":
        return text
    if kind == "date":
        return dt.date.fromisoformat(text)
    if kind == "float":
        return float(text)
    return json.loads(text)


def plain_from_storage(kind: str, raw: Any) -> Any:
    """A value as an unsealed column stored it (text, number or JSON text) in Python form."""
    if kind == "float":
        return float(raw)
    if kind == "json":
        return json.loads(raw) if isinstance(raw, str | bytes) else raw
    return raw if kind == "date" and isinstance(raw, dt.date) else str(raw)


def plain_for_storage(kind: str, value: Any) -> Any:
    if kind == "date":
        return value.isoformat()
    if kind == "json":
        return json.dumps(value)
    return value


class Sealed(TypeDecorator[Any]):
    """A column stored as AES-GCM ciphertext; Python sees the plain ``str``, date, float, JSON
    or bytes.

    Equality in SQL cannot work on it (every seal uses a fresh nonce): search by blind index.
    """

    impl = Text
    cache_ok = True

    def __init__(self, context: str, kind: str = "str") -> None:
        super().__init__()
        self.context = context
        self.kind = kind

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().seal(encode_plain(self.kind, value), self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return decode_plain(self.kind, _open_with_reload(str(value), self.context))

    def seal_plain(self, value: Any) -> str | None:
        return self.process_bind_param(value, None)  # type: ignore[arg-type]

    @property
    def python_type(self) -> type[Any]:
        return {"str": str, "date": dt.date, "float": float, "bytes": bytes}.get(self.kind, dict)


def _open_with_reload(token: str, context: str) -> bytes:
    ring = keyring()
    try:
        return ring.open(token, context)
    except KeyMismatchError:
        # Another process may have rotated the keys since this one read the key file.
        forget_cached_keys()
        return keyring().open(token, context)


def sealed_columns(metadata: Any) -> Mapping[str, list[str]]:
    """Table name → names of its sealed columns, from the models."""
    found: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, Sealed):
                found.setdefault(table.name, []).append(column.name)
    return found
