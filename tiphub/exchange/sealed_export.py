"""Exports sealed with a passphrase: AES-256-GCM under a key derived by scrypt.

An export that carries identity leaves the hub only in this form. The file is::

    magic "TIPSEAL1" | log2(N) r p (1 byte each) | salt (16) | nonce prefix (7) | chunks

Each chunk is up to 1 MiB of plaintext sealed with AES-256-GCM (16-byte tag); its nonce is
the prefix, the chunk's number (4 bytes) and a last-chunk flag (1 byte), and the header is
its associated data. So a file cannot be cut short, reordered or given other scrypt
parameters without failing to open, and a large export never has to fit in memory.

Decrypt on the command line with ``python -m tiphub.exchange.sealed_export SEALED OUT``.
"""

from __future__ import annotations

import argparse
import getpass
import os
import struct
import sys
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from tiphub.files import open_private, staged_file

MAGIC = b"TIPSEAL1"
SALT_BYTES = 16
NONCE_PREFIX_BYTES = 7
TAG_BYTES = 16
CHUNK_BYTES = 1024 * 1024
# scrypt N = 2^15, r = 8, p = 1: 32 MiB and a fraction of a second per derivation (the
# OWASP-recommended minimum); the parameters are in the header, so they can grow later.
LOG2_N = 15
BLOCK_SIZE_R = 8
PARALLELISM_P = 1
MAX_LOG2_N = 20
HEADER_BYTES = len(MAGIC) + 3 + SALT_BYTES + NONCE_PREFIX_BYTES
MIN_PASSPHRASE_LENGTH = 12


class SealedFileError(ValueError):
    """Not a sealed export, a wrong passphrase, or a damaged or shortened file."""


def _key(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", number) + (b"\x01" if last else b"\x00")


def _read_full(handle: BinaryIO, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = handle.read(size - len(data))
        if not more:
            break
        data += more
    return data


def seal_file(source: Path, destination: Path, passphrase: str) -> None:
    """Write ``source`` sealed to ``destination`` (0600, appearing whole or not at all)."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ValueError(f"the passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")
    salt = os.urandom(SALT_BYTES)
    prefix = os.urandom(NONCE_PREFIX_BYTES)
    header = MAGIC + bytes((LOG2_N, BLOCK_SIZE_R, PARALLELISM_P)) + salt + prefix
    cipher = AESGCM(_key(passphrase, salt, LOG2_N, BLOCK_SIZE_R, PARALLELISM_P))
    with (
        staged_file(Path(destination)) as staged,
        open(source, "rb") as plain,
        open_private(staged, "wb") as sealed,
    ):
        sealed.write(header)
        number = 0
        chunk = _read_full(plain, CHUNK_BYTES)
        while True:
            following = _read_full(plain, CHUNK_BYTES) if len(chunk) == CHUNK_BYTES else b""
            last = not following
            sealed.write(cipher.encrypt(_nonce(prefix, number, last), chunk, header))
            if last:
                break
            chunk, number = following, number + 1


def open_file(source: Path, destination: Path, passphrase: str) -> None:
    """Decrypt a sealed export to ``destination`` (0600); ``SealedFileError`` if it cannot."""
    with open(source, "rb") as sealed:
        header = _read_full(sealed, HEADER_BYTES)
        if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
            raise SealedFileError("this is not a sealed tiphub export")
        log2_n, r, p = header[len(MAGIC) : len(MAGIC) + 3]
        if not (10 <= log2_n <= MAX_LOG2_N and 1 <= r <= 32 and 1 <= p <= 16):
            raise SealedFileError("this sealed export has parameters this version refuses")
        salt_start = len(MAGIC) + 3
        salt = header[salt_start : salt_start + SALT_BYTES]
        prefix = header[salt_start + SALT_BYTES :]
        cipher = AESGCM(_key(passphrase, salt, log2_n, r, p))
        with staged_file(Path(destination)) as staged, open_private(staged, "wb") as plain:
            number = 0
            chunk = _read_full(sealed, CHUNK_BYTES + TAG_BYTES)
            while True:
                following = (
                    _read_full(sealed, CHUNK_BYTES + TAG_BYTES)
                    if len(chunk) == CHUNK_BYTES + TAG_BYTES
                    else b""
                )
                last = not following
                try:
                    plain.write(cipher.decrypt(_nonce(prefix, number, last), chunk, header))
                except InvalidTag:
                    raise SealedFileError(
                        "the passphrase is wrong, or the file is damaged or incomplete"
                    ) from None
                if last:
                    break
                chunk, number = following, number + 1


def main(argv: list[str] | None = None) -> int:
    """Decrypt a sealed export; the passphrase is asked for, never taken from the arguments."""
    parser = argparse.ArgumentParser(
        prog="python -m tiphub.exchange.sealed_export",
        description="Decrypt an export that tiphub sealed with a passphrase.",
    )
    parser.add_argument("sealed", type=Path, help="the sealed export (.sealed)")
    parser.add_argument("output", type=Path, help="where to write the decrypted file (0600)")
    arguments = parser.parse_args(argv)
    passphrase = os.environ.get("TIPHUB_EXPORT_PASSPHRASE") or getpass.getpass("Passphrase: ")
    try:
        open_file(arguments.sealed, arguments.output, passphrase)
    except (SealedFileError, OSError) as error:
        print(f"cannot open {arguments.sealed.name}: {error}", file=sys.stderr)
        return 1
    print(f"decrypted to {arguments.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
