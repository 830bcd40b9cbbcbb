"""Read the ads and recruiter pages a user has collected into :class:`RawAd` values.

Inputs, chosen by the file's extension (an unknown extension is sniffed for a feed or a page):

* CSV (``.csv``, ``.tsv``, ``.txt``), the separator (comma, semicolon or tab) detected by
  :mod:`tiphub.delimited`; JSON Lines (``.jsonl``, ``.ndjson``). Fields: ``ad_id`` and
  ``text`` required, ``title``, ``location``, ``salary``, ``contact``, ``url`` and
  ``seen_at`` optional; headers match whatever their case. A text field holding HTML markup
  is reduced to its visible text, so that a script pasted into a spreadsheet never reaches
  ``text`` (``original`` keeps it as found).
* Saved HTML pages (``.html``, ``.htm``): one ad per page. The title is ``<title>``, else
  ``og:title``; the text is what a browser shows, without scripts, styles, ``<noscript>``
  and ``<template>``; the URL is ``<link rel="canonical">``, else ``og:url``, else the
  "saved from url" comment browsers write. The ad's ID is that URL when the page names one
  (so the same ad saved twice under two file names is recognised as one), else the file
  name without its extension. A page saved by ``tiphub online fetch`` takes its address
  and the time it was fetched (``seen_at``) from the ``fetched.jsonl`` beside it.
* RSS 2.0 and Atom feeds saved as files (``.xml``, ``.rss``, ``.atom``), parsed with
  defusedxml (no entity expansion, no external references): one ad per ``item``/``entry``,
  its ID the ``guid``/``id``, else its link, else ``<file name>#<item number>``; the text is
  ``content:encoded``/``content``, else ``description``/``summary``, HTML reduced to text;
  ``seen_at`` is ``pubDate``, ``updated`` or ``published``. A page saved by hand has no
  ``seen_at``.
  ``original`` is the item element's exact bytes as found in the file, from its start tag
  to the end of its end tag, in the file's encoding.

``original`` is always the bytes as found: the CSV record (all the lines a quoted field
spans, with their line ends), the JSON line, the whole page, the feed item; ``media_type``
names its type and encoding. Times without a zone are taken as UTC.

Limits: a record (CSV row, JSON line, page, feed item) over ``MAX_RECORD_BYTES`` (5 MB) or
an ad text over ``MAX_TEXT_CHARS`` (200,000 characters) is an error for that row; a file
over ``MAX_FILE_BYTES`` is refused whole. The same ``ad_id`` read twice with the same
content is a warning ("duplicate of row N") and kept once; with other content, an error
naming both places.

Problems never quote a value: they name the file (as given), the row (the CSV record, the
header being row 1; the JSON line; the feed item) and the field.
Everything read is kept whole: a hostile formula (``=HYPERLINK(…)``) stays inert text that
the exporters neutralise.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import email.utils
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers import expat

import charset_normalizer
import defusedxml
import defusedxml.ElementTree as SafeElementTree

from tiphub.delimited import detect_in
from tiphub.files import UnreadableFileError, open_regular_file
from tiphub.online.ads import Problem, RawAd, ReadResult

# A record (CSV row, JSON line, saved page, feed item) larger than this is refused: no real
# ad is, and a page this big is an archive or an attack.
MAX_RECORD_BYTES = 5 * 1024 * 1024
# An ad's text longer than this is refused (a long ad is a few thousand characters).
MAX_TEXT_CHARS = 200_000
# Written by tiphub.online.fetcher beside the pages it saves (its LOG_NAME).
FETCH_LOG = "fetched.jsonl"
# A whole input file larger than this is refused before it is read into memory.
MAX_FILE_BYTES = 512 * 1024 * 1024

REQUIRED_FIELDS = ("ad_id", "text")
OPTIONAL_FIELDS = ("title", "location", "salary", "contact", "url", "seen_at")
KNOWN_FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

CSV_EXTENSIONS = (".csv", ".tsv", ".txt")
JSONL_EXTENSIONS = (".jsonl", ".ndjson")
HTML_EXTENSIONS = (".html", ".htm")
FEED_EXTENSIONS = (".xml", ".rss", ".atom")
SUPPORTED = CSV_EXTENSIONS + JSONL_EXTENSIONS + HTML_EXTENSIONS + FEED_EXTENSIONS

ATOM = "{http://www.w3.org/2005/Atom}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32 (BOM)"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32 (BOM)"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8 (BOM)"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16 (BOM)"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16 (BOM)"),
)
_REAL_MARKUP = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--")
# A column name that may be quoted in a message: a headerless file's first row would put
# data in the names, so anything that does not look like a name is referred to by position.
_NAME_LIKE = re.compile(r"[A-Za-z_][\w .\-/()]{0,39}")


@dataclass(frozen=True)
class _Decoded:
    text: str
    codec: str  # Python codec of the bytes after the BOM
    label: str  # how the formats line names it
    bom: int  # length of the byte-order mark


class _FileError(Exception):
    """A problem that stops reading one file."""


class _Reader:
    """Collects the ads and problems of one :func:`read_inputs` call."""

    def __init__(self) -> None:
        self.result = ReadResult()
        # ad_id → the first ad read with it, to find the same ad given twice.
        self.seen: dict[str, RawAd] = {}

    def warn(self, source: str, row: int | None, field: str | None, message: str) -> None:
        self.result.warnings.append(Problem(source, row, field, message))

    def error(self, source: str, row: int | None, field: str | None, message: str) -> None:
        self.result.errors.append(Problem(source, row, field, message))

    def add(self, ad: RawAd) -> None:
        """Keep an ad unless the same ad_id was read before."""
        first = self.seen.get(ad.ad_id)
        if first is None:
            self.seen[ad.ad_id] = ad
            self.result.ads.append(ad)
            return
        first_where = _place(first.source, first.row)
        if _content(first) == _content(ad):
            said = first_where if first.source != ad.source else _place("", first.row)
            self.warn(ad.source, ad.row, "ad_id", f"duplicate of {said or first_where}; kept once")
        else:
            self.error(
                ad.source,
                ad.row,
                "ad_id",
                f"the same ad_id as {first_where} with different content; give each ad its "
                "own ad_id",
            )


def read_inputs(paths: Sequence[Path], default_region: str | None = None) -> ReadResult:
    """Read every file in order; the ads in file order, with every warning and error.

    ``default_region`` is accepted for callers that pass it on to contact extraction; reading
    itself does not depend on it.
    """
    reader = _Reader()
    for path in paths:
        source = str(path)
        try:
            _read_file(reader, Path(path), source)
        except _FileError as problem:
            reader.error(source, None, None, str(problem))
    return reader.result


def _read_file(reader: _Reader, path: Path, source: str) -> None:
    data = _read_bytes(path)
    kind = _kind_of(path, data)
    if kind == "csv":
        _read_csv(reader, data, source)
    elif kind == "jsonl":
        _read_jsonl(reader, data, source)
    elif kind == "html":
        _read_html(reader, data, source, path)
    else:
        _read_feed(reader, data, source, path)


def _read_bytes(path: Path) -> bytes:
    try:
        with open_regular_file(path) as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise _FileError(
                    f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; split it"
                )
            return handle.read(MAX_FILE_BYTES + 1)
    except UnreadableFileError as error:
        raise _FileError(error.reason) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise _FileError(f"cannot read the file ({reason})") from None


def _kind_of(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix in CSV_EXTENSIONS:
        return "csv"
    if suffix in JSONL_EXTENSIONS:
        return "jsonl"
    if suffix in HTML_EXTENSIONS:
        return "html"
    if suffix in FEED_EXTENSIONS:
        return "feed"
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml") or head.startswith((b"<rss", b"<feed")):
        return "html" if b"<html" in head else "feed"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    described = f"'{suffix}'" if suffix else "without an extension"
    raise _FileError(
        f"unsupported file type {described}: give CSV ({', '.join(CSV_EXTENSIONS)}), "
        f"JSON Lines ({', '.join(JSONL_EXTENSIONS)}), saved pages ({', '.join(HTML_EXTENSIONS)})"
        f" or RSS/Atom feeds ({', '.join(FEED_EXTENSIONS)})"
    )


# -- encodings -------------------------------------------------------------------------------


def _decode(data: bytes) -> _Decoded:
    """The file's text: a BOM decides, else strict UTF-8, else charset-normalizer's guess."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return _Decoded(data[len(bom) :].decode(codec), codec, label, len(bom))
            except UnicodeDecodeError:
                raise _FileError(
                    f"the file starts with a byte-order mark for {codec} but is not {codec}"
                ) from None
    if b"\x00" in data:
        raise _FileError("the file looks binary (it holds NUL bytes), not text")
    try:
        return _Decoded(data.decode("utf-8"), "utf-8", "UTF-8", 0)
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise _FileError(
            "the file's encoding cannot be determined; save it as UTF-8 and read it again"
        )
    codec = codecs.lookup(best.encoding).name
    try:
        return _Decoded(data.decode(codec), codec, f"{codec} (detected)", 0)
    except UnicodeDecodeError:
        raise _FileError(
            "the file's encoding cannot be determined; save it as UTF-8 and read it again"
        ) from None


def _physical_lines(data: bytes, decoded: _Decoded) -> list[tuple[str, bytes]]:
    """The file's lines, each as text and as its exact bytes, line ends included."""
    body = data[decoded.bom :]
    # Old Mac files end lines with a bare carriage return; every other file with "\n".
    end = "\r" if "\r" in decoded.text and "\n" not in decoded.text else "\n"
    lines: list[tuple[str, bytes]] = []
    if decoded.codec.startswith(("utf-16", "utf-32")):
        # Bytes cannot be split on b"\n" here; these codecs re-encode exactly.
        for line in re.findall(f"[^{end}]*{end}|[^{end}]+$", decoded.text):
            lines.append((line, line.encode(decoded.codec)))
        return lines
    # In UTF-8 and the ASCII-compatible codecs a newline byte is always a newline.
    byte = end.encode()
    for raw in re.findall(b"[^" + byte + b"]*" + byte + b"|[^" + byte + b"]+$", body):
        lines.append((raw.decode(decoded.codec), raw))
    return lines


# -- delimited files -------------------------------------------------------------------------


def _read_csv(reader: _Reader, data: bytes, source: str) -> None:
    decoded = _decode(data)
    lines = _physical_lines(data, decoded)
    if not any(text.strip() for text, _ in lines):
        reader.warn(source, None, None, "the file is empty: no ads in it")
        reader.result.formats.append(f"{source}: CSV, {decoded.label}, empty")
        return
    layout = detect_in(io.StringIO(decoded.text))
    reader.result.formats.append(f"{source}: CSV, {decoded.label}, {layout.describe()}")
    consumed = 0

    def feed() -> Iterator[str]:
        nonlocal consumed
        for text, _ in lines:
            consumed += 1
            yield text

    rows = csv.reader(feed(), delimiter=layout.separator)
    # The csv module's cell limit (128 kB) is below the ad limits, which are checked here.
    previous_limit = csv.field_size_limit()
    csv.field_size_limit(max(previous_limit, MAX_RECORD_BYTES))
    try:
        _read_csv_rows(reader, rows, lines, source, decoded, lambda: consumed)
    finally:
        csv.field_size_limit(previous_limit)


def _read_csv_rows(
    reader: _Reader,
    rows: Iterator[list[str]],
    lines: list[tuple[str, bytes]],
    source: str,
    decoded: _Decoded,
    consumed: Callable[[], int],
) -> None:
    try:
        header = next(rows)
    except (StopIteration, csv.Error):
        reader.error(source, 1, None, "the header row cannot be read")
        return
    columns = _columns(reader, source, 1, [cell.strip() for cell in header])
    if columns is None:
        return
    media_type = f"text/csv; charset={decoded.codec}"
    row_number = 1
    start = consumed()
    while True:
        row_number += 1
        try:
            cells = next(rows)
        except StopIteration:
            break
        except csv.Error as error:
            reader.error(source, row_number, None, f"the row cannot be read as CSV ({error})")
            start = consumed()
            continue
        original = b"".join(raw for _, raw in lines[start : consumed()])
        start = consumed()
        if not any(cell.strip() for cell in cells):
            continue
        if len(original) > MAX_RECORD_BYTES:
            reader.error(source, row_number, None, _too_large("row", original))
            continue
        extra = cells[len(columns) :]
        if any(cell.strip() for cell in extra):
            reader.error(
                source,
                row_number,
                None,
                f"the row has {len(cells)} cells where the header has {len(columns)}: a "
                "separator or quote out of place?",
            )
            continue
        record = {
            name: cells[index]
            for index, name in enumerate(columns)
            if name in KNOWN_FIELDS and index < len(cells)
        }
        _add_record(reader, record, source, row_number, "csv", original, media_type)


def _columns(reader: _Reader, source: str, row: int, names: list[str]) -> list[str] | None:
    """The header's field names in lower case, after ONE warning for unknown columns and ONE
    error for missing required ones (None then)."""
    lowered = [name.lstrip("\ufeff").strip().lower() for name in names]
    missing = [name for name in REQUIRED_FIELDS if name not in lowered]
    if missing:
        reader.error(
            source,
            row,
            None,
            f"required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(name) for name in missing)} missing from the header; "
            f"the file needs {', '.join(REQUIRED_FIELDS)}",
        )
        return None
    unknown = [
        _describe_column(original, index)
        for index, (original, name) in enumerate(zip(names, lowered, strict=True))
        if name not in KNOWN_FIELDS
    ]
    if unknown:
        reader.warn(
            source,
            row,
            None,
            f"column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not used (known: "
            f"{', '.join(KNOWN_FIELDS)})",
        )
    duplicated = sorted(
        {name for name in lowered if name in KNOWN_FIELDS and lowered.count(name) > 1}
    )
    if duplicated:
        reader.warn(
            source,
            row,
            None,
            f"column{'s' if len(duplicated) > 1 else ''} {', '.join(map(repr, duplicated))} "
            "appear more than once; the first is read",
        )
        lowered = [
            name if lowered.index(name) == index else f"\0duplicate{index}"
            for index, name in enumerate(lowered)
        ]
    return lowered


def _describe_column(name: str, index: int, what: str = "column") -> str:
    name = name.strip()
    digits = sum(character.isdigit() for character in name)
    if _NAME_LIKE.fullmatch(name) and digits < 5 and "@" not in name:
        return repr(name)
    return f"{what} {index + 1}"


# -- JSON Lines ------------------------------------------------------------------------------


def _read_jsonl(reader: _Reader, data: bytes, source: str) -> None:
    decoded = _decode(data)
    reader.result.formats.append(f"{source}: JSON Lines, {decoded.label}")
    parsed: list[tuple[int, dict[str, Any], bytes]] = []
    for number, (text, raw) in enumerate(_physical_lines(data, decoded), start=1):
        if not text.strip():
            continue
        if len(raw) > MAX_RECORD_BYTES:
            reader.error(source, number, None, _too_large("line", raw))
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            reader.error(
                source,
                number,
                None,
                f"line {number} is not valid JSON ({error.msg} at column {error.colno})",
            )
            continue
        if not isinstance(value, dict):
            reader.error(source, number, None, f"line {number} is not a JSON object")
            continue
        parsed.append(
            (number, {str(key).strip().lower(): item for key, item in value.items()}, raw)
        )
    if not parsed:
        if not reader.result.errors or reader.result.errors[-1].source != source:
            reader.warn(source, None, None, "the file holds no ads")
        return
    keys: list[str] = []
    for _, record, _ in parsed:
        keys.extend(key for key in record if key not in keys)
    missing = [name for name in REQUIRED_FIELDS if name not in keys]
    if missing:
        reader.error(
            source,
            None,
            None,
            f"required field{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))} in no line; each line needs "
            f"{', '.join(REQUIRED_FIELDS)}",
        )
        return
    unknown = [
        _describe_column(key, index, "field")
        for index, key in enumerate(keys)
        if key not in KNOWN_FIELDS
    ]
    if unknown:
        reader.warn(
            source,
            None,
            None,
            f"field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} not used (known: "
            f"{', '.join(KNOWN_FIELDS)})",
        )
    for number, record, raw in parsed:
        fields: dict[str, str] = {}
        usable = True
        for name in KNOWN_FIELDS:
            value = record.get(name)
            if value is None:
                continue
            if not _is_scalar(value) and not (
                isinstance(value, list) and all(_is_scalar(item) for item in value)
            ):
                reader.error(source, number, name, "is not text, a number or a list of them")
                usable = False
                continue
            if isinstance(value, list):
                fields[name] = "\n".join(str(item) for item in value)
            else:
                fields[name] = str(value)
        if usable:
            _add_record(reader, fields, source, number, "jsonl", raw, "application/jsonl")


def _is_scalar(value: object) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


# -- one CSV or JSON record ------------------------------------------------------------------


def _add_record(
    reader: _Reader,
    record: dict[str, str],
    source: str,
    row: int,
    kind: str,
    original: bytes,
    media_type: str,
) -> None:
    values = {name: _clean(record.get(name)) for name in KNOWN_FIELDS}
    ad_id = values["ad_id"]
    if ad_id is None:
        reader.error(source, row, "ad_id", "is empty; every ad needs an ad_id")
        return
    for name in ("text", "title"):
        if values[name] is not None and _REAL_MARKUP.search(values[name] or ""):
            values[name] = html_to_text(values[name] or "").text or None
    text = values["text"]
    if text is None:
        reader.warn(source, row, "text", "is empty: the ad has no text and is skipped")
        return
    if len(text) > MAX_TEXT_CHARS:
        reader.error(source, row, "text", _too_long(text))
        return
    reader.add(
        RawAd(
            ad_id=ad_id,
            text=text,
            title=values["title"],
            location=values["location"],
            salary=values["salary"],
            contact=values["contact"],
            url=values["url"],
            seen_at=_seen_at(reader, values["seen_at"], source, row),
            source=source,
            row=row,
            kind=kind,
            original=original,
            media_type=media_type,
        )
    )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _seen_at(
    reader: _Reader, value: str | None, source: str, row: int | None
) -> dt.datetime | None:
    if value is None:
        return None
    parsed = parse_time(value)
    if parsed is None:
        reader.warn(
            source, row, "seen_at", "is not an ISO 8601 or RFC 2822 date and time; left empty"
        )
    return parsed


def parse_time(value: str) -> dt.datetime | None:
    """An ISO 8601 or RFC 2822 (e-mail, RSS) date and time; a time without zone is UTC."""
    value = value.strip()
    parsed: dt.datetime | None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


# -- HTML ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageText:
    """What a browser would show of a page, and the page's own title and address."""

    text: str
    title: str | None = None
    url: str | None = None


_SKIPPED = {"script", "style", "noscript", "template", "svg", "math", "iframe", "object"}
# Elements that start a new line of text.
_BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
    ]
)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.in_title = False
        self.skipping: list[str] = []
        self.og_title: str | None = None
        self.canonical: str | None = None
        self.og_url: str | None = None
        self.description: str | None = None
        self.saved_from: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {key.lower(): (value or "") for key, value in attrs}
        if tag == "meta":
            prop = (named.get("property") or named.get("name") or "").lower()
            if prop == "og:title":
                self.og_title = named.get("content")
            elif prop == "og:url":
                self.og_url = named.get("content")
            elif prop in ("og:description", "description") and not self.description:
                self.description = named.get("content")
        elif tag == "link" and "canonical" in named.get("rel", "").lower().split():
            self.canonical = named.get("href")
        if tag == "title":
            self.in_title = True
            return
        if tag in _SKIPPED:
            self.skipping.append(tag)
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <script/> opens nothing; anything else is handled as a start tag.
        if tag in _SKIPPED:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif self.skipping and tag in _SKIPPED:
            # Close back to the matching element (browsers recover the same way).
            while self.skipping:
                if self.skipping.pop() == tag:
                    break
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title and not self.skipping:
            self.title_parts.append(data)
        elif not self.skipping:
            self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        found = re.search(r"saved from url=\(\d+\)(\S+)", data)
        if found and self.saved_from is None:
            self.saved_from = found.group(1)


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\xa0", " ").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _web_address(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if re.match(r"https?://[^\s/]+", value, re.IGNORECASE) else None


def html_to_text(markup: str) -> PageText:
    """The visible text of an HTML page or fragment, its title and its canonical address.

    Never raises: a page too broken to parse gives what was read before the break.
    """
    parser = _PageParser()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser's failures leave best-effort text
        pass
    title = _tidy("".join(parser.title_parts)) or _tidy(parser.og_title or "") or None
    url = (
        _web_address(parser.canonical)
        or _web_address(parser.og_url)
        or _web_address(parser.saved_from)
    )
    text = _tidy("".join(parser.parts))
    if not text and parser.description:
        text = _tidy(parser.description)
    return PageText(text, title, url)


def _read_html(reader: _Reader, data: bytes, source: str, path: Path) -> None:
    if len(data) > MAX_RECORD_BYTES:
        raise _FileError(_too_large("page", data))
    decoded = _decode_page(data)
    reader.result.formats.append(f"{source}: HTML page, {decoded.label}")
    page = html_to_text(decoded.text)
    if not page.text:
        reader.warn(
            source,
            None,
            "text",
            "nothing readable in the page (broken or empty HTML): no ad taken from it",
        )
        return
    if len(page.text) > MAX_TEXT_CHARS:
        reader.error(source, None, "text", _too_long(page.text))
        return
    fetched_url, fetched_at = _fetch_log_entry(path, data)
    url = page.url or fetched_url
    reader.add(
        RawAd(
            ad_id=url or path.stem,
            text=page.text,
            title=page.title,
            url=url,
            seen_at=fetched_at,
            source=source,
            row=None,
            kind="html",
            original=data,
            media_type=f"text/html; charset={decoded.codec}",
        )
    )


def _fetch_log_entry(path: Path, data: bytes) -> tuple[str | None, dt.datetime | None]:
    """Where and when ``tiphub online fetch`` got this page, from the ``fetched.jsonl`` it
    writes beside the pages; only an entry whose SHA-256 matches the page's bytes counts,
    so a page edited after fetching does not borrow the fetch's time."""
    log = path.parent / FETCH_LOG
    if not log.is_file():
        return None, None
    digest = hashlib.sha256(data).hexdigest()
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None, None
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("file") != path.name:
            continue
        if entry.get("sha256") != digest:
            continue
        url = entry.get("final_url") or entry.get("url")
        stamp = entry.get("fetched_at")
        return (
            _web_address(url) if isinstance(url, str) else None,
            parse_time(stamp) if isinstance(stamp, str) else None,
        )
    return None, None


def _decode_page(data: bytes) -> _Decoded:
    """A page's text: a BOM, else its own <meta charset>, else as any text file."""
    if not any(data.startswith(bom) for bom, _, _ in _BOMS):
        declared = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_\-]+)", data[:4096], re.I)
        if declared:
            try:
                codec = codecs.lookup(declared.group(1).decode("ascii")).name
                return _Decoded(data.decode(codec), codec, f"{codec} (declared)", 0)
            except (LookupError, UnicodeDecodeError):
                pass
    return _decode(data)


# -- feeds -----------------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _is_item(tag: str) -> bool:
    return tag == f"{ATOM}entry" or _local(tag) == "item"


def _read_feed(reader: _Reader, data: bytes, source: str, path: Path) -> None:
    try:
        root = SafeElementTree.fromstring(data)
    except ParseError as error:
        line, column = getattr(error, "position", (None, None))
        where = f" at line {line}, column {column}" if line else ""
        raise _FileError(f"not well-formed XML{where}; no feed read") from None
    except defusedxml.DefusedXmlException:
        raise _FileError(
            "the feed declares entities or external references, which are refused"
        ) from None
    except (ValueError, LookupError):
        raise _FileError("the feed's encoding is not supported; save it as UTF-8") from None
    name = _local(root.tag)
    if root.tag == f"{ATOM}feed":
        kind, label = "atom", "Atom feed"
    elif name in ("rss", "RDF"):
        kind, label = "rss", "RSS feed"
    else:
        raise _FileError(f"not an RSS or Atom feed (its root element is <{name[:40]}>)")
    encoding = _xml_encoding(data)
    reader.result.formats.append(f"{source}: {label}, {encoding}")
    items = [element for element in root.iter() if _is_item(element.tag)]
    spans = _item_spans(data)
    media_type = f"application/{kind}+xml; charset={encoding.lower()}"
    if not items:
        reader.warn(source, None, None, "the feed holds no items")
    for number, item in enumerate(items, start=1):
        original = data[slice(*spans[number - 1])] if len(spans) == len(items) else b""
        if len(original) > MAX_RECORD_BYTES:
            reader.error(source, number, None, _too_large("item", original))
            continue
        _add_item(reader, item, kind, source, number, path, original, media_type)


def _add_item(
    reader: _Reader,
    item: Element,
    kind: str,
    source: str,
    number: int,
    path: Path,
    original: bytes,
    media_type: str,
) -> None:
    if kind == "atom":
        identifier = _child_text(item, f"{ATOM}id")
        title = _content_text(item.find(f"{ATOM}title"))
        body = _content_text(item.find(f"{ATOM}content")) or _content_text(
            item.find(f"{ATOM}summary")
        )
        url = _atom_link(item)
        stamp = _child_text(item, f"{ATOM}updated") or _child_text(item, f"{ATOM}published")
    else:
        identifier = _child_text(item, "guid") or _clean(item.get(f"{RDF}about"))
        title = _html_text(_child_text(item, "title"))
        body = _html_text(_child_text(item, CONTENT_ENCODED)) or _html_text(
            _child_text(item, "description") or _child_text(item, "{*}description")
        )
        url = _child_text(item, "link") or _child_text(item, "{*}link")
        stamp = _child_text(item, "pubDate") or _child_text(item, "{*}date")
    if not identifier:
        identifier = url or f"{path.stem}#{number}"
    if not body:
        reader.warn(source, number, "text", "the item has no text and is skipped")
        return
    if len(body) > MAX_TEXT_CHARS:
        reader.error(source, number, "text", _too_long(body))
        return
    reader.add(
        RawAd(
            ad_id=identifier,
            text=body,
            title=title,
            url=url,
            seen_at=_seen_at(reader, stamp, source, number),
            source=source,
            row=number,
            kind=kind,
            original=original,
            media_type=media_type,
        )
    )


def _child_text(item: Element, tag: str) -> str | None:
    child = item.find(tag)
    if child is None:
        return None
    return _clean("".join(child.itertext()))


def _html_text(value: str | None) -> str | None:
    if value is None:
        return None
    if _REAL_MARKUP.search(value):
        return html_to_text(value).text or None
    return _tidy(value) or None


def _content_text(element: Element | None) -> str | None:
    """An Atom text construct: plain text, escaped HTML or inline XHTML."""
    if element is None:
        return None
    if element.get("type") == "xhtml":
        return _tidy(" ".join(element.itertext())) or None
    return _html_text("".join(element.itertext()))


def _atom_link(item: Element) -> str | None:
    for link in item.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return _clean(link.get("href"))
    return None


def _xml_encoding(data: bytes) -> str:
    for bom, _, label in _BOMS:
        if data.startswith(bom):
            return label
    declared = re.match(rb"\s*<\?xml[^>]*encoding=[\"']([A-Za-z0-9._\-]+)", data)
    return declared.group(1).decode("ascii").upper() if declared else "UTF-8"


def _item_spans(data: bytes) -> list[tuple[int, int]]:
    """Where each item element starts and ends in the file's bytes.

    A second pass with expat itself, because ElementTree keeps no positions. It runs only
    on bytes defusedxml has already accepted, so no entity is declared in them.
    """
    parser = expat.ParserCreate(namespace_separator="}")
    spans: list[tuple[int, int]] = []
    starts: list[int] = []
    depth: list[bool] = []
    closing = ">".encode(_expat_codec(data))
    empty_closing = "/>".encode(_expat_codec(data))

    def start(tag: str, _attributes: dict[str, str]) -> None:
        item = _is_item("{" + tag if "}" in tag else tag)
        depth.append(item)
        if item:
            starts.append(parser.CurrentByteIndex)

    def end(tag: str) -> None:
        if depth.pop():
            begin = starts.pop()
            at = parser.CurrentByteIndex
            if at == begin:  # <item/>: the start tag is the whole element
                stop = data.find(empty_closing, at) + len(empty_closing)
            else:
                stop = data.find(closing, at) + len(closing)
            spans.append((begin, stop))

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except expat.ExpatError:
        return []
    spans.sort()
    return spans


def _expat_codec(data: bytes) -> str:
    for bom, codec, _ in _BOMS:
        if data.startswith(bom):
            return codec
    return "utf-8"


# -- messages --------------------------------------------------------------------------------


def _place(source: str, row: int | None) -> str:
    return " ".join(part for part in (source, f"row {row}" if row is not None else "") if part)


def _content(ad: RawAd) -> tuple[str | None, ...]:
    return (ad.title, ad.text, ad.location, ad.salary, ad.contact, ad.url)


def _too_large(what: str, data: bytes) -> str:
    return (
        f"the {what} is {len(data) / (1024 * 1024):.1f} MB, over the "
        f"{MAX_RECORD_BYTES // (1024 * 1024)} MB an ad may take (an unclosed quote?)"
    )


def _too_long(text: str) -> str:
    return f"is {len(text):,} characters long, over the {MAX_TEXT_CHARS:,} an ad may have"
