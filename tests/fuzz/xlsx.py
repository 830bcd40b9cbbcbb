"""Raw XLSX writing: workbooks openpyxl would refuse to write, and zip bombs made cheaply.

The workbooks are the smallest openpyxl reads (content types, relationships, workbook, one
sheet of inline strings), written by hand so that cells can hold anything, XML can be
damaged on purpose, and huge parts can be streamed into the zip without being held in memory.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Cases" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    "</Relationships>"
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
)
SHEET_TAIL = "</sheetData></worksheet>"
EMPTY_SST = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="0" uniqueCount="0"/>'
)
SHEET = "xl/worksheets/sheet1.xml"
SST = "xl/sharedStrings.xml"


def column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def cell_xml(row: int | str, column: int, value: str, raw: bool = False) -> str:
    """An inline-string cell; numbers stay numbers. ``raw`` skips escaping (damaged XML)."""
    ref = f"{column_letter(column)}{row}"
    text = value if raw else escape(value)
    if value and _is_number(value):
        return f'<c r="{ref}"><v>{text}</v></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip() == value and value.lower() not in ("nan", "inf", "-inf", "infinity")


def sheet_xml(rows: Sequence[Sequence[str]], raw: bool = False) -> str:
    parts = [SHEET_HEAD]
    for number, row in enumerate(rows, start=1):
        cells = "".join(cell_xml(number, column, value, raw) for column, value in enumerate(row) if value != "")
        parts.append(f'<row r="{number}">{cells}</row>')
    parts.append(SHEET_TAIL)
    return "".join(parts)


def parts_for(rows: Sequence[Sequence[str]], raw: bool = False) -> dict[str, bytes]:
    return {
        "[Content_Types].xml": CONTENT_TYPES.encode(),
        "_rels/.rels": ROOT_RELS.encode(),
        "xl/workbook.xml": WORKBOOK.encode(),
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS.encode(),
        SST: EMPTY_SST.encode(),
        SHEET: sheet_xml(rows, raw).encode("utf-8", errors="surrogatepass"),
    }


def write_parts(path: Path, parts: dict[str, bytes], stored: Iterable[str] = ()) -> None:
    stored = set(stored)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            method = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compress_type=method)


def read_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_rows(path: Path, rows: Sequence[Sequence[str]], raw: bool = False) -> None:
    write_parts(path, parts_for(rows, raw))


def bad_crc(path: Path, parts: dict[str, bytes]) -> None:
    """The sheet stored uncompressed with one byte changed: the zip's CRC no longer matches."""
    write_parts(path, parts, stored=[SHEET])
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(SHEET)
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    data[middle] = ord("Q") if data[middle] != ord("Q") else ord("R")
    path.write_bytes(bytes(data))


# -------------------------------------------------------------------------------------- bombs


def _repeated_deflate(head: bytes, unit: bytes, repeats: int, tail: bytes) -> Iterator[bytes]:
    """A raw deflate stream of head + unit*repeats + tail, compressing the unit only once.

    After a full flush the compressor keeps no history, so the compressed form of a block of
    units is the same every time: deflating 1 GB costs one block's work and a loop of writes.
    """
    block_units = 1 << 16
    block = unit * block_units
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)
    compressed_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(repeats, block_units)
    for _ in range(full):
        yield compressed_block
    yield compressor.compress(unit * rest + tail) + compressor.flush(zlib.Z_FINISH)


def _crc_of_repeats(head: bytes, unit: bytes, repeats: int, tail: bytes) -> int:
    block_units = 1 << 16
    block = unit * block_units
    crc = zlib.crc32(head)
    full, rest = divmod(repeats, block_units)
    for _ in range(full):
        crc = zlib.crc32(block, crc)
    return zlib.crc32(unit * rest + tail, crc)


def write_bomb(path: Path, member: str, head: bytes, unit: bytes, repeats: int, tail: bytes, others: dict[str, bytes]) -> None:
    """A workbook whose ``member`` inflates to head + unit*repeats + tail (up to ~4 GB).

    The member is written by hand (local header, deflate stream, central directory) because
    zipfile would compress every byte; the other parts go through zipfile first.
    """
    size = len(head) + len(unit) * repeats + len(tail)
    if size >= 1 << 32:
        raise ValueError("the bomb must stay below 4 GB (no zip64 here)")
    write_parts(path, others)
    crc = _crc_of_repeats(head, unit, repeats, tail)
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        central_start = min(
            (info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + info.compress_size)
            for info in infos[-1:]
        )
    data = path.read_bytes()[:central_start]
    with path.open("wb") as handle:
        handle.write(data)
        offset = handle.tell()
        name = member.encode()
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x5821, crc, 0, size, len(name), 0)
        handle.write(local + name)
        compressed = 0
        for chunk in _repeated_deflate(head, unit, repeats, tail):
            handle.write(chunk)
            compressed += len(chunk)
        end_of_data = handle.tell()
        # Patch the compressed size now that it is known.
        handle.seek(offset + 18)
        handle.write(struct.pack("<I", compressed))
        handle.seek(end_of_data)
        central = bytearray()
        entries = [(info.filename.encode(), info.CRC, info.compress_size, info.file_size, info.header_offset, info.compress_type) for info in infos]
        entries.append((name, crc, compressed, size, offset, 8))
        for entry_name, entry_crc, packed, unpacked, header_offset, method in entries:
            central += struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50, 20, 20, 0, method, 0, 0x5821, entry_crc, packed, unpacked,
                len(entry_name), 0, 0, 0, 0, 0, header_offset,
            ) + entry_name
        central_offset = handle.tell()
        handle.write(central)
        handle.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), central_offset, 0))


def shared_strings_bomb(path: Path, header: Sequence[str], target_bytes: int = 1 << 30) -> None:
    """A sheet that points at a sharedStrings part inflating to ~``target_bytes``."""
    unit = b"<si><t>Zyxmarta</t></si>"
    head = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    )
    parts = parts_for([list(header), ["0"] * len(header)])
    parts[SHEET] = (
        SHEET_HEAD
        + '<row r="1">'
        + "".join(cell_xml(1, i, name) for i, name in enumerate(header))
        + '</row><row r="2">'
        + "".join(f'<c r="{column_letter(i)}2" t="s"><v>{i}</v></c>' for i in range(len(header)))
        + "</row>"
        + SHEET_TAIL
    ).encode()
    del parts[SST]
    write_bomb(path, SST, head, unit, target_bytes // len(unit), b"</sst>", parts)


def million_rows_sheet(
    path: Path, header: Sequence[str], row: Sequence[str], rows: int = 1_000_000
) -> None:
    """A sheet of ``rows`` identical data rows.

    Rows and cells carry no ``r`` reference (optional in OOXML, and openpyxl counts them), so
    every row is the same bytes and the sheet is deflated once per block, like the bomb.
    """
    parts = parts_for([list(header)])
    del parts[SHEET]
    head = (SHEET_HEAD + '<row r="1">' + "".join(cell_xml(1, i, v) for i, v in enumerate(header)) + "</row>").encode()
    cells = "".join(
        cell_xml(2, i, value).replace(f' r="{column_letter(i)}2"', "") for i, value in enumerate(row)
    )
    write_bomb(path, SHEET, head, f"<row>{cells}</row>".encode(), rows, SHEET_TAIL.encode(), parts)


def entity_payload(kind: str, path_to_secret: Path | None = None) -> str:
    """A DOCTYPE prologue for a billion-laughs or an external-entity (XXE) sheet."""
    if kind == "laughs":
        entities = ['<!ENTITY lol0 "lollollollollollollollollollol">']
        entities += [f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)]
        return "<!DOCTYPE worksheet [" + "".join(entities) + "]>"
    target = path_to_secret.as_uri() if path_to_secret else "file:///etc/passwd"
    return f'<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "{target}">]>'
