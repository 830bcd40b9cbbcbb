"""The recruitment-agency licence register check: ads against an inspectorate's list.

A labour inspectorate (Portugal's ACT, Romania's ITM, Poland's KRAZ…) publishes the
agencies licensed to recruit and place workers. This module reads that list as CSV and
flags ads whose agency claims do not hold up against it:

- ``agency-licence-unknown``: the ad quotes a licence number that is not in the register;
- ``agency-licence-invalid``: the register says the quoted (or named) agency's licence is
  revoked, suspended or expired, or its ``valid_until`` has passed;
- ``agency-licence-mismatch``: the ad's name or contacts are one registered agency's but its
  licence number another's (or none, while it claims a licence), or the number belongs to
  an agency whose name and contacts differ from the ad's;
- ``agency-unlicensed``: the ad presents itself as a recruitment or employment agency and
  neither a licence number, a name nor a contact of it is in the register.

Evidence is the ad's own words (the licence mention, the agency phrase, the agency name);
for a contact only its kind is named, never the contact itself. Licence mentions and agency
phrases are recognised in English, French, Spanish, Portuguese, Romanian, Russian,
Ukrainian, German, Italian, Polish and Dutch, on text folded for case and accents so that
``licença`` and ``licenca`` read the same.

``check_register`` compares an ad's contacts in clear (and so also recognises an e-mail at an
agency's own domain, or a page under its website); ``check_register_hashed`` compares the
keyed hashes the hub stores, exact contacts only.

Reading is all or nothing: a bad row refuses the file with every problem located by file,
row and field, never quoting a value.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import phonenumbers
from rapidfuzz import fuzz

from tiphub.delimited import detect_layout
from tiphub.errors import LocatedError
from tiphub.files import UnreadableFileError, open_regular_file
from tiphub.online.ads import Contact, IndicatorHit, Problem, RawAd
from tiphub.online.contacts import contact_hash, extract_contacts

REQUIRED_COLUMNS = ("name", "licence_number")
OPTIONAL_COLUMNS = ("address", "phone", "email", "website", "status", "valid_until")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# ``license_number`` is how American spelling writes the column; accepted as the same one.
COLUMN_ALIASES = {"license_number": "licence_number"}
STATUSES = ("valid", "suspended", "revoked", "expired")
# A national register is a few thousand rows; anything far bigger is the wrong file.
MAX_REGISTER_BYTES = 64 * 1024 * 1024
NAME_MATCH_THRESHOLD = 90

UNKNOWN = "agency-licence-unknown"
INVALID = "agency-licence-invalid"
MISMATCH = "agency-licence-mismatch"
UNLICENSED = "agency-unlicensed"
INDICATOR_IDS = (UNKNOWN, INVALID, MISMATCH, UNLICENSED)


class RegisterError(LocatedError):
    """A register file refused; ``problems`` lists every bad row and field. The error itself
    is located at the first of them."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        first = self.problems[0]
        more = len(self.problems) - 1
        reason = first.message + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")
        super().__init__(reason, source=first.source, row=first.row, column=first.field)


@dataclass(frozen=True)
class Agency:
    """One licensed agency as the register lists it. ``contacts`` are its phone, e-mail and
    website normalised as the ads' contacts are, so that they compare."""

    name: str
    licence_number: str
    address: str | None = None
    phone: str | None = None
    email: str | None = None
    website: str | None = None
    status: str = "valid"
    valid_until: dt.date | None = None
    # Where the agency was read from; not part of what the agency is.
    row: int | None = field(default=None, compare=False)
    contacts: tuple[Contact, ...] = ()

    def licence_problem(self, today: dt.date) -> str | None:
        """Why the licence does not hold on ``today`` (the register's status, or the date it
        ran out), None when it holds."""
        if self.status != "valid":
            return f"register: licence {self.status}"
        if self.valid_until is not None and self.valid_until < today:
            return f"register: licence expired on {self.valid_until.isoformat()}"
        return None

    def to_row(self) -> dict[str, str]:
        return {
            "name": self.name,
            "licence_number": self.licence_number,
            "address": self.address or "",
            "phone": self.phone or "",
            "email": self.email or "",
            "website": self.website or "",
            "status": self.status,
            "valid_until": self.valid_until.isoformat() if self.valid_until else "",
        }


@dataclass(frozen=True)
class Register:
    """The licensed agencies of one register file, in file order."""

    agencies: tuple[Agency, ...]
    source: str = ""
    ignored_columns: tuple[str, ...] = ()
    default_region: str | None = None

    def to_rows(self) -> list[dict[str, str]]:
        """One plain dict per agency with the register's columns (empty string for none),
        as the hub stores them and as ``from_rows`` reads them back."""
        return [agency.to_row() for agency in self.agencies]

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, str | None]],
        source: str = "register",
        default_region: str | None = None,
    ) -> Register:
        """A register from dict rows (keys are column names, any case); validated as a file
        is, rows counted from 2 as if row 1 were the header. Raises ``RegisterError``."""
        records = [{_column_name(key): value or "" for key, value in row.items()} for row in rows]
        return _build(records, source, [], default_region, start_row=2)


def read_register(
    path: Path | str, default_region: str | None = None, encoding: str | None = None
) -> Register:
    """Read a register CSV (comma, semicolon or tab; header in any case). Columns ``name``
    and ``licence_number`` are required; ``address``, ``phone``, ``email``, ``website``,
    ``status`` (valid, suspended, revoked, expired; valid when empty) and ``valid_until``
    (YYYY-MM-DD) are optional; other columns are ignored and listed in ``ignored_columns``.
    ``default_region`` (ISO alpha-2) reads phone numbers written without a country code.
    The file is read as UTF-8 (or UTF-16 with its byte-order mark) unless ``encoding`` names
    another: a guessed code page would garble the names that are compared.

    Raises ``RegisterError`` naming file, row and field of every problem; nothing is
    returned from a file with a bad row.
    """
    source = Path(path)
    label = source.name
    text = _read_text(source, label, encoding)
    separator = detect_layout(text[: 64 * 1024]).separator
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        records = list(reader)
    except csv.Error:
        problem = Problem(label, reader.line_num or None, None, "not a readable CSV file")
        raise RegisterError([problem]) from None
    if not records or not any(cell.strip() for cell in records[0]):
        raise RegisterError([Problem(label, 1, None, "the file is empty: no header row")])
    header = [_column_name(cell) for cell in records[0]]
    problems: list[Problem] = []
    for required in REQUIRED_COLUMNS:
        if required not in header:
            problems.append(Problem(label, 1, required, "missing column"))
    seen: set[str] = set()
    for name in header:
        if name in COLUMNS and name in seen:
            problems.append(Problem(label, 1, name, "column given twice"))
        seen.add(name)
    if problems:
        raise RegisterError(problems)
    ignored = tuple(name for name in header if name not in COLUMNS)
    rows: list[dict[str, str] | None] = []
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            rows.append(None)  # a blank line keeps the spreadsheet's row numbering
            continue
        if len(record) > len(header):
            problems.append(Problem(label, number, None, "more values than columns"))
            rows.append(None)
            continue
        rows.append(
            {name: cell for name, cell in zip(header, record, strict=False) if name in COLUMNS}
        )
    return _build(rows, label, problems, default_region, start_row=2, ignored=ignored)


def _column_name(raw: str) -> str:
    name = "_".join(raw.strip().lstrip("\ufeff").casefold().replace("-", " ").split())
    return COLUMN_ALIASES.get(name, name)


def _read_text(source: Path, label: str, encoding: str | None) -> str:
    try:
        with open_regular_file(source) as handle:
            data = handle.read(MAX_REGISTER_BYTES + 1)
    except UnreadableFileError as error:
        raise RegisterError([Problem(label, None, None, error.reason)]) from None
    except OSError as error:
        reason = f"cannot read the file ({error.strerror or type(error).__name__})"
        raise RegisterError([Problem(label, None, None, reason)]) from None
    if len(data) > MAX_REGISTER_BYTES:
        reason = f"larger than {MAX_REGISTER_BYTES // (1024 * 1024)} MiB: not a register"
        raise RegisterError([Problem(label, None, None, reason)])
    try:
        if encoding is not None:
            return data.decode(encoding)
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except LookupError:
        raise RegisterError([Problem(label, None, None, "unknown encoding name")]) from None
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        reason = (
            f"not {encoding or 'UTF-8'} text (a bad byte on line {line}); save it as UTF-8 "
            "CSV, or give the encoding it was saved in (e.g. cp1252)"
        )
        raise RegisterError([Problem(label, None, None, reason)]) from None


def _build(
    rows: Sequence[Mapping[str, str] | None],
    label: str,
    problems: list[Problem],
    default_region: str | None,
    *,
    start_row: int,
    ignored: tuple[str, ...] = (),
) -> Register:
    agencies: list[Agency] = []
    licence_rows: dict[str, int] = {}
    for number, row in enumerate(rows, start=start_row):
        if row is None:
            continue
        before = len(problems)
        agency = _agency(row, label, number, problems, default_region)
        if agency is None or len(problems) > before:
            continue
        key = licence_key(agency.licence_number)
        if key in licence_rows:
            message = f"licence number already on row {licence_rows[key]}"
            problems.append(Problem(label, number, "licence_number", message))
            continue
        licence_rows[key] = number
        agencies.append(agency)
    if problems:
        raise RegisterError(problems)
    return Register(tuple(agencies), label, ignored, default_region)


def _agency(
    row: Mapping[str, str],
    label: str,
    number: int,
    problems: list[Problem],
    default_region: str | None,
) -> Agency | None:
    values = {name: (row.get(name) or "").strip() for name in COLUMNS}

    def refuse(column: str, message: str) -> None:
        problems.append(Problem(label, number, column, message))

    if not values["name"]:
        refuse("name", "missing: every agency needs a name")
    if not values["licence_number"]:
        refuse("licence_number", "missing: every agency needs a licence number")
    elif not licence_key(values["licence_number"]):
        refuse("licence_number", "has no letters or digits")
    status = values["status"].casefold() or "valid"
    if status not in STATUSES:
        refuse("status", f"not a known status (expected one of {', '.join(STATUSES)})")
    valid_until: dt.date | None = None
    if values["valid_until"]:
        try:
            valid_until = dt.date.fromisoformat(values["valid_until"])
        except ValueError:
            refuse("valid_until", "not a date (expected YYYY-MM-DD)")
    contacts: list[Contact] = []
    for column, kind in (("phone", "phone"), ("email", "email"), ("website", "url")):
        if not values[column]:
            continue
        found = _normalised_contacts(values[column], kind, default_region)
        if not found:
            refuse(column, _UNREADABLE_CONTACT[kind])
        contacts.extend(found)
    if not values["name"] or not values["licence_number"]:
        return None
    return Agency(
        name=values["name"],
        licence_number=values["licence_number"],
        address=values["address"] or None,
        phone=values["phone"] or None,
        email=values["email"] or None,
        website=values["website"] or None,
        status=status,
        valid_until=valid_until,
        row=number,
        contacts=tuple(dict.fromkeys(contacts)),
    )


_UNREADABLE_CONTACT = {
    "phone": "not a phone number that can be read (give it with its country code, e.g. +351…)",
    "email": "not an e-mail address",
    "url": "not a web address",
}


# -- contacts ---------------------------------------------------------------------------------


def _normalised_contacts(raw: str, kind: str, default_region: str | None) -> list[Contact]:
    """The contacts of one register cell (a cell may list several, e.g. two phones),
    normalised as the ads' contacts are, by ``tiphub.online.contacts``; what it does not take
    out of a bare cell (a web address without ``www.``, a number without the messenger's
    name) is read here, into the same normal form."""
    # A website that is a social-media page reads as a messenger handle there, as in ads.
    kinds = ("url", "handle") if kind == "url" else (kind,)
    found = [c for c in extract_contacts(raw, default_region) if c.kind in kinds]
    return found or _own_contacts(raw, kind, default_region)


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SPLIT_CELL = re.compile(r"[,;|/]\s*(?=\+|\d|\(|[\w.+-]+@|https?:|www\.)|\s{2,}|\n")


def _own_contacts(raw: str, kind: str, default_region: str | None) -> list[Contact]:
    found: list[Contact] = []
    for part in (p.strip() for p in _SPLIT_CELL.split(raw)):
        if not part:
            continue
        if kind == "phone":
            try:
                number = phonenumbers.parse(part, default_region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_possible_number(number):
                value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                region = phonenumbers.region_code_for_number(number)
                found.append(Contact("phone", value, region if region != "ZZ" else None))
        elif kind == "email":
            match = _EMAIL.fullmatch(part)
            if match:
                found.append(Contact("email", part.casefold()))
        else:
            host, path = _host_and_path(part)
            if host and "." in host:
                found.append(Contact("url", f"{host}{path}"))
    return found


def _host_and_path(raw: str) -> tuple[str, str]:
    text = raw.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").casefold()
    except ValueError:
        return "", ""
    host = host.removeprefix("www.")
    return host, parts.path.rstrip("/").casefold()


# Mailboxes anyone can open: sharing the domain says nothing about being the agency.
FREE_MAIL_DOMAINS = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.fr",
        "yahoo.es",
        "yahoo.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "hotmail.es",
        "outlook.com",
        "outlook.fr",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "proton.me",
        "protonmail.com",
        "yandex.ru",
        "yandex.com",
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "ukr.net",
        "i.ua",
        "meta.ua",
        "rambler.ru",
        "sapo.pt",
        "zoho.com",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "interia.pl",
        "libero.it",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "seznam.cz",
        "abv.bg",
        "tutanota.com",
    ]
)
# Pages on these hosts are anyone's: only the full path identifies an agency there.
SHARED_HOSTS = frozenset(
    [
        "facebook.com",
        "m.facebook.com",
        "fb.com",
        "instagram.com",
        "t.me",
        "telegram.me",
        "wa.me",
        "vk.com",
        "ok.ru",
        "linkedin.com",
        "twitter.com",
        "x.com",
        "tiktok.com",
        "youtube.com",
        "sites.google.com",
        "olx.ro",
        "olx.pl",
        "olx.ua",
        "olx.pt",
    ]
)


def _email_domain(value: str) -> str:
    return value.rpartition("@")[2].casefold()


@dataclass
class _ContactIndex:
    """Exact keys of registered contacts, each to the agencies that list it."""

    phones: dict[str, set[int]] = field(default_factory=dict)
    emails: dict[str, set[int]] = field(default_factory=dict)
    handles: dict[str, set[int]] = field(default_factory=dict)
    sites: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # host → (path, agency)
    domains: dict[str, set[int]] = field(default_factory=dict)  # own mail/web domains

    def add(self, contact: Contact, agency: int) -> None:
        if contact.kind == "phone":
            self.phones.setdefault(contact.value, set()).add(agency)
        elif contact.kind == "email":
            self.emails.setdefault(contact.value.casefold(), set()).add(agency)
            domain = _email_domain(contact.value)
            if domain not in FREE_MAIL_DOMAINS:
                self.domains.setdefault(domain, set()).add(agency)
        elif contact.kind == "url":
            host, path = _host_and_path(contact.value)
            self.sites.setdefault(host, []).append((path, agency))
            if host not in SHARED_HOSTS and not path:
                self.domains.setdefault(host, set()).add(agency)
        elif contact.kind == "handle":
            self.handles.setdefault(contact.value.casefold(), set()).add(agency)

    def matches(self, contact: Contact) -> list[tuple[int, str]]:
        """(agency, which kind matched) for one of an ad's contacts."""
        found: list[tuple[int, str]] = []
        if contact.kind == "phone":
            found += [(a, "phone") for a in self.phones.get(contact.value, ())]
        elif contact.kind == "email":
            value = contact.value.casefold()
            found += [(a, "e-mail") for a in self.emails.get(value, ())]
            if not found:
                domain = _email_domain(value)
                found += [(a, "e-mail domain") for a in self.domains.get(domain, ())]
        elif contact.kind == "url":
            host, path = _host_and_path(contact.value)
            for registered_path, agency in self.sites.get(host, ()):
                shared = host in SHARED_HOSTS
                if (not registered_path and not shared) or (
                    registered_path and (path + "/").startswith(registered_path + "/")
                ):
                    found.append((agency, "website"))
            if not found:
                found += [(a, "website domain") for a in self.domains.get(host, ())]
        elif contact.kind == "handle":
            found += [
                (a, "messenger handle") for a in self.handles.get(contact.value.casefold(), ())
            ]
        return found


# -- folding text for case and accents ----------------------------------------------------------


_FOLD_TABLE: dict[int, str] = {}
_FOLD_TABLE_LIMIT = 100_000
_RESIZING_CHARS: set[str] = set()  # characters that fold to more or fewer than one


def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char.casefold()).casefold()  # № → No → no
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Folded:
    """A text folded for case and accents, able to give back the original words of a span
    of the folded text (folding may change lengths: ``ß`` → ``ss``, ``№`` → ``no``)."""

    def __init__(self, text: str) -> None:
        self.original = text
        chars = set(text)
        if len(_FOLD_TABLE) > _FOLD_TABLE_LIMIT:
            _FOLD_TABLE.clear()  # a text of every Unicode character must not grow it forever
            _RESIZING_CHARS.clear()
        for char in chars:
            if ord(char) not in _FOLD_TABLE:
                folded = _FOLD_TABLE[ord(char)] = _fold_char(char)
                if len(folded) != 1:
                    _RESIZING_CHARS.add(char)
        self.text = text.translate(_FOLD_TABLE)
        self._origin: list[int] | None = None if chars.isdisjoint(_RESIZING_CHARS) else []

    def words(self, start: int, end: int) -> str:
        """The original text behind folded ``[start, end)``."""
        if self._origin is None:
            return self.original[start:end]
        if not self._origin:
            for index, char in enumerate(self.original):
                self._origin.extend([index] * len(_FOLD_TABLE[ord(char)]))
        if start >= end:
            return ""
        return self.original[self._origin[start] : self._origin[end - 1] + 1]


def fold(text: str) -> str:
    """Case- and accent-folded text, as licence mentions and phrases are matched."""
    return _Folded(text).text


# Cyrillic capitals that look like Latin ones: a licence "АВ 123" typed either way is one.
_HOMOGLYPHS = str.maketrans("АВЕКМНОРСТХІ", "ABEKMHOPCTXI")


def licence_key(number: str) -> str:
    """A licence number as compared: letters and digits only, upper case, Cyrillic
    look-alikes as Latin (``AG-12/2020``, ``ag 12 2020`` and ``АG12/2020`` are one)."""
    folded = fold(number).upper()
    return "".join(c for c in folded if c.isalnum()).translate(_HOMOGLYPHS)


# -- what an ad says about licences and agencies -------------------------------------------------

# Licence words, folded (no accents, lower case). Noun forms only where a number may follow
# without a "no." marker, so that "licensed since 2010" is not read as licence "2010".
_LICENCE_NOUN = (
    r"licen[cs]e|licencia|licenca|licenta|licenza|licencja|licentie|lizenz|alvara|agrement"
    r"|kraz|лицензия|лицензии|ліцензія|ліцензіі|ліцензії"
)
_LICENCE_WORD = r"licen[cstz]\w*|lizenz\w*|alvara|agrement|kraz|л[иі]ценз\w*|erlaubnis"
_MARKER = (
    r"(?:numbers?|numero|numar|nummer|nro|nr|num|nos?|n|номер|н)(?![^\W\d_])\s*\.?\s*[°o]?\s*\.?"
    r"|#|°"
)
# A number holds a digit from its start, or after a short series prefix ("AB 123456").
_NUMBER = r"(?P<number>(?:[^\W\d_]{1,4}[-/. \t]?)?\d[^\W_]*(?:[-/.][^\W_]+)*)(?![^\W_])"
_LICENCE_MENTIONS = (
    # "licence no. AG-12", "licença de agência n.º 12/2020", "Lizenz-Nr. 12", "ліцензія № АВ 12"
    re.compile(
        rf"(?<![^\W_])(?:{_LICENCE_WORD})(?:[ \t]+[^\W\d_]{{1,20}}(?![^\W_])){{0,3}}?[ \t\-]*"
        rf"(?:{_MARKER})"
        rf"[ \t]*[:#]?[ \t]*{_NUMBER}",
    ),
    # "Licence: AG-12", "KRAZ 12345", "licencia 12/2020"
    re.compile(rf"(?<![^\W_])(?:{_LICENCE_NOUN})[ \t]*[:#]?[ \t]*{_NUMBER}"),
    # "numéro de licence 12", "număr licență 12", "license number 12" (caught above as well)
    re.compile(
        rf"(?<![^\W_])(?:numero|numar|number|nr|no)\.?[ \t]+(?:(?:de|of|da|do|la)[ \t]+)*"
        rf"(?:{_LICENCE_WORD})[ \t]*[:#]?[ \t]*{_NUMBER}",
    ),
)
_LICENCE_CLAIM = re.compile(rf"(?<![^\W_])(?:{_LICENCE_WORD})")

# Phrases by which an ad presents itself as a recruitment or employment agency, folded.
_AGENCY_PHRASES = re.compile(
    r"(?<![^\W_])(?:"
    # English
    r"(?:recruitment|recruiting|employment|staffing|placement|manpower|labou?r|job|hr)"
    r" agency|agency for (?:recruitment|employment|work abroad)|headhunting (?:agency|firm)"
    # French
    r"|agence (?:de |d'|d’)(?:recrutement|placement|emploi|interim|travail)"
    r"|cabinet de recrutement|societe d'interim|entreprise de travail temporaire"
    # Spanish and Portuguese (folded "agência" is "agencia")
    r"|agencia (?:de )?(?:empleo|colocacion|reclutamiento|contratacion|trabajo|emprego"
    r"|recrutamento|colocacao|trabalho)|empresa de trabajo temporal"
    r"|empresa de trabalho temporario"
    # Romanian
    r"|agenti[ea] de (?:recrutare|plasare|munca|ocupare)|firma de recrutare"
    # Russian and Ukrainian
    r"|кадров\w* агентств\w*|рекрутингов\w* агентств\w*"
    r"|агентств\w* (?:по |з )?(?:трудоустро[ий]ств|працевлаштуванн|подбору персонал)\w*"
    # German
    r"|personalvermittlung\w*|arbeitsvermittlung\w*|personalagentur\w*|zeitarbeitsfirma\w*"
    r"|personaldienstleister\w*"
    # Italian, Polish, Dutch
    r"|agenzia (?:per il lavoro|di (?:reclutamento|collocamento|lavoro))"
    r"|agencj\w* (?:pracy|zatrudnienia|rekrutacyjn\w*)|uitzendbureau|wervingsbureau"
    r")(?![^\W_])",
)


@dataclass(frozen=True)
class LicenceMention:
    """A licence number as an ad quotes it: the ad's words and the number's compare key."""

    words: str
    key: str


def licence_mentions(text: str) -> list[LicenceMention]:
    """Every licence number an ad quotes (in any of the languages above), in text order."""
    return _licence_mentions(_Folded(text))


def agency_phrases(text: str) -> list[str]:
    """The ad's words presenting it as a recruitment or employment agency."""
    return _agency_phrases(_Folded(text))


def claims_licence(text: str) -> bool:
    """Whether an ad speaks of a licence at all ("licensed agency", "licença", "KRAZ")."""
    return _LICENCE_CLAIM.search(fold(text)) is not None


# How far before a licence word "numéro de" may start, and how far after it a number may end.
_MENTION_REACH = 40
_MENTION_LENGTH = 160


def _licence_mentions(folded: _Folded) -> list[LicenceMention]:
    spans: list[tuple[int, int, int, str]] = []
    # Most ads speak of no licence: the patterns run only around a licence word.
    for word in _LICENCE_CLAIM.finditer(folded.text):
        low = max(0, word.start() - _MENTION_REACH)
        high = word.end() + _MENTION_LENGTH
        for rank, pattern in enumerate(_LICENCE_MENTIONS):
            for match in pattern.finditer(folded.text, low, high):
                if not match.start() <= word.start() < match.end():
                    continue
                key = licence_key(match.group("number"))
                if len(key) >= 3 and any(c.isdigit() for c in key):
                    spans.append((match.start(), -match.end(), rank, key))
    mentions: list[LicenceMention] = []
    covered: list[tuple[int, int]] = []
    # The earliest and longest span wins; on a tie the pattern listed first ("no." read as
    # a marker, not as the series letters of a number).
    for start, negative_end, _, key in sorted(set(spans)):
        end = -negative_end
        if any(start < c_end and c_start < end for c_start, c_end in covered):
            continue
        covered.append((start, end))
        mentions.append(LicenceMention(folded.words(start, end).strip(), key))
    return mentions


def _agency_phrases(folded: _Folded) -> list[str]:
    words = [folded.words(m.start(), m.end()) for m in _AGENCY_PHRASES.finditer(folded.text)]
    return list(dict.fromkeys(words))


# -- agency names --------------------------------------------------------------------------------

_TOKEN = re.compile(r"[^\W_]+")
# Legal forms at either end of a name say nothing about which agency it is.
_LEGAL_FORMS = tuple(
    tuple(form.split())
    for form in (
        "ltd",
        "limited",
        "llc",
        "llp",
        "inc",
        "plc",
        "co",
        "corp",
        "company",
        "srl",
        "s r l",
        "sa",
        "s a",
        "sas",
        "sarl",
        "sc",
        "s c",
        "gmbh",
        "ag",
        "kg",
        "ug",
        "lda",
        "l da",
        "unipessoal",
        "sl",
        "s l",
        "slu",
        "bv",
        "b v",
        "nv",
        "spa",
        "s p a",
        "sp z o o",
        "sp zoo",
        "sro",
        "s r o",
        "kft",
        "doo",
        "d o o",
        "eood",
        "ood",
        "oy",
        "ab",
        "as",
        "aps",
        "ооо",
        "тов",
        "пп",
        "фоп",
        "ао",
        "пао",
        "зао",
        "ип",
    )
)
_LEGAL_FORM_SET = frozenset(_LEGAL_FORMS)
_LEGAL_FORM_SIZES = sorted({len(form) for form in _LEGAL_FORMS}, reverse=True)
# Words many agency names share; a name is found by its other words first.
_GENERIC_WORDS = frozenset(
    [
        "agency",
        "agence",
        "agencia",
        "agentia",
        "agentie",
        "agenzia",
        "agencja",
        "agentur",
        "recruitment",
        "recruiting",
        "recrutement",
        "reclutamento",
        "recrutamento",
        "recrutare",
        "reclutamiento",
        "jobs",
        "job",
        "work",
        "works",
        "employment",
        "emploi",
        "empleo",
        "emprego",
        "personal",
        "personnel",
        "staff",
        "staffing",
        "services",
        "service",
        "group",
        "international",
        "global",
        "europe",
        "euro",
        "european",
        "consulting",
        "consultants",
        "solutions",
        "hr",
        "human",
        "resources",
        "resurse",
        "umane",
        "travail",
        "trabajo",
        "trabalho",
        "munca",
        "the",
        "and",
        "of",
        "de",
        "du",
        "la",
        "le",
        "des",
        "et",
        "y",
        "e",
        "si",
        "agentstvo",
        "агентство",
        "кадровое",
        "кадрове",
        "персонал",
        "работа",
        "робота",
    ]
)


def name_tokens(name: str) -> list[str]:
    """A name's words folded for case and accents, without its legal form at either end."""
    tokens = _TOKEN.findall(fold(name))
    changed = True
    while changed:
        changed = False
        for size in _LEGAL_FORM_SIZES:
            if len(tokens) <= size:
                continue
            if tuple(tokens[-size:]) in _LEGAL_FORM_SET:
                tokens, changed = tokens[:-size], True
            elif tuple(tokens[:size]) in _LEGAL_FORM_SET:
                tokens, changed = tokens[size:], True
    return tokens


def names_match(first: str, second: str) -> bool:
    """Whether two agency names are one: rapidfuzz ``token_set_ratio`` ≥ 90 on the
    normalised names."""
    left, right = " ".join(name_tokens(first)), " ".join(name_tokens(second))
    return bool(left and right) and fuzz.token_set_ratio(left, right) >= NAME_MATCH_THRESHOLD


@dataclass
class _RegisterIndex:
    agencies: tuple[Agency, ...]
    by_licence: dict[str, int] = field(default_factory=dict)
    contacts: _ContactIndex = field(default_factory=_ContactIndex)
    names: list[str] = field(default_factory=list)  # normalised, joined by spaces
    name_sizes: list[int] = field(default_factory=list)
    anchors: dict[str, set[int]] = field(default_factory=dict)  # distinctive word → agencies

    @classmethod
    def of(cls, register: Register) -> _RegisterIndex:
        index = cls(register.agencies)
        for number, agency in enumerate(register.agencies):
            index.by_licence[licence_key(agency.licence_number)] = number
            for contact in agency.contacts:
                index.contacts.add(contact, number)
            tokens = name_tokens(agency.name)
            index.names.append(" ".join(tokens))
            index.name_sizes.append(len(tokens))
            # A name of generic words only ("Global Recruitment") would match half the ads:
            # such an agency is recognised by its licence number and contacts alone.
            distinctive = [t for t in tokens if t not in _GENERIC_WORDS and len(t) > 1]
            for token in distinctive:
                index.anchors.setdefault(token, set()).add(number)
        return index

    def named_in(self, folded: _Folded) -> dict[int, str]:
        """Registered agencies whose name the ad writes (``token_set_ratio`` ≥ 90 against a
        window of the ad's words the name's length, or one word longer), with the ad's
        words."""
        words = _TOKEN.findall(folded.text)
        found: dict[int, str] = {}
        present = self.anchors.keys() & set(words)
        if not present:
            return found
        tokens = list(_TOKEN.finditer(folded.text))
        positions = [index for index, word in enumerate(words) if word in present]
        for position in positions:
            for agency in self.anchors[words[position]]:
                if agency in found:
                    continue
                size = self.name_sizes[agency]
                for length in (size, size + 1):
                    for start in range(max(0, position - length + 1), position + 1):
                        end = start + length
                        if end > len(words):
                            break
                        window = " ".join(words[start:end])
                        score = fuzz.token_set_ratio(self.names[agency], window)
                        if score >= NAME_MATCH_THRESHOLD:
                            span = folded.words(tokens[start].start(), tokens[end - 1].end())
                            found[agency] = span
                            break
                    if agency in found:
                        break
        return found


# -- the check ---------------------------------------------------------------------------------


class _Hits:
    """Indicator hits of one ad, one per id, evidence in order and without repeats."""

    def __init__(self) -> None:
        self._evidence: dict[str, dict[str, None]] = {}

    def add(self, indicator: str, *evidence: str) -> None:
        bucket = self._evidence.setdefault(indicator, {})
        for item in evidence:
            if item:
                bucket[item] = None

    def result(self) -> list[IndicatorHit]:
        return [
            IndicatorHit(indicator, tuple(self._evidence[indicator]))
            for indicator in INDICATOR_IDS
            if indicator in self._evidence
        ]


def check_register(
    register: Register,
    ads: Sequence[RawAd],
    contacts: Sequence[Sequence[Contact]],
    today: dt.date | None = None,
) -> list[list[IndicatorHit]]:
    """Register flags for each ad, in the order of ``ads``: ``contacts[i]`` are ad i's
    normalised contacts. ``today`` (UTC date by default) decides whether a ``valid_until``
    has passed."""
    if len(ads) != len(contacts):
        raise ValueError("check_register needs one list of contacts per ad")
    today = today or dt.datetime.now(dt.UTC).date()
    index = _RegisterIndex.of(register)
    results: list[list[IndicatorHit]] = []
    for ad, ad_contacts in zip(ads, contacts, strict=True):
        matches = [match for contact in ad_contacts for match in index.contacts.matches(contact)]
        kinds = {contact.kind for contact in ad_contacts}
        results.append(_check_ad(index, ad, matches, kinds, today))
    return results


def check_register_hashed(
    register: Register,
    ads: Sequence[RawAd],
    contact_hashes: Sequence[Sequence[tuple[str, str]]],
    today: dt.date | None = None,
) -> list[list[IndicatorHit]]:
    """``check_register`` for stored ads, whose contacts are kept only as ``(kind, keyed
    hash)`` (``tiphub.online.contacts.contact_hash``). The register's contacts are hashed the
    same way, so only exact contacts compare: an e-mail at an agency's domain, or a page
    under its website, is not recognised as it is from contacts in clear."""
    if len(ads) != len(contact_hashes):
        raise ValueError("check_register_hashed needs one list of contact hashes per ad")
    today = today or dt.datetime.now(dt.UTC).date()
    index = _RegisterIndex.of(register)
    hashed: dict[tuple[str, str], set[int]] = {}
    for number, agency in enumerate(register.agencies):
        for contact in agency.contacts:
            hashed.setdefault((contact.kind, contact_hash(contact)), set()).add(number)
    results: list[list[IndicatorHit]] = []
    for ad, pairs in zip(ads, contact_hashes, strict=True):
        matches = [
            (agency, _KIND_WORDS.get(kind, kind))
            for kind, digest in pairs
            for agency in sorted(hashed.get((kind, digest), ()))
        ]
        kinds = {kind for kind, _digest in pairs}
        results.append(_check_ad(index, ad, matches, kinds, today))
    return results


def _check_ad(
    index: _RegisterIndex,
    ad: RawAd,
    contact_matches: Sequence[tuple[int, str]],
    contact_kinds: set[str],
    today: dt.date,
) -> list[IndicatorHit]:
    """The flags of one ad, given which registered agencies its contacts match (agency and
    the kind that matched) and the kinds of contact it gives."""
    text = ad.full_text
    folded = _Folded(text)
    hits = _Hits()
    named = index.named_in(folded)
    by_contact: dict[int, list[str]] = {}
    for agency, kind in contact_matches:
        matched_kinds = by_contact.setdefault(agency, [])
        if kind not in matched_kinds:
            matched_kinds.append(kind)
    claimed = set(named) | set(by_contact)

    def why_claimed(agency: int) -> list[str]:
        reasons = [named[agency]] if agency in named else []
        reasons += [f"{kind} matches the register" for kind in by_contact.get(agency, ())]
        return reasons

    mentions = _licence_mentions(folded)
    licensed: set[int] = set()
    for mention in mentions:
        holder = index.by_licence.get(mention.key)
        if holder is None:
            hits.add(UNKNOWN, mention.words)
            if claimed:
                # A registered agency's name or contacts with a number that is not its own.
                hits.add(MISMATCH, mention.words, "licence number not the named agency's")
                for agency in sorted(claimed):
                    hits.add(MISMATCH, *why_claimed(agency))
            continue
        licensed.add(holder)
        problem = index.agencies[holder].licence_problem(today)
        if problem:
            hits.add(INVALID, mention.words, problem)
        if claimed and holder not in claimed:
            others = [reason for agency in sorted(claimed) for reason in why_claimed(agency)]
            hits.add(MISMATCH, mention.words, "licence belongs to another registered agency")
            hits.add(MISMATCH, *(f"{reason} (another agency)" for reason in others))
        elif not claimed:
            # Neither the holder's name nor any contact of it is in the ad: only a contact of
            # a kind the holder registered tells that the ad is someone else's.
            registered = {contact.kind for contact in index.agencies[holder].contacts}
            differing = sorted(contact_kinds & registered)
            if differing:
                hits.add(MISMATCH, mention.words, "licence holder's name not in the ad")
                for kind in differing:
                    hits.add(MISMATCH, f"{_KIND_WORDS[kind]} differs from the licence holder's")
    claim = _LICENCE_CLAIM.search(folded.text) if not mentions and claimed else None
    if claim is not None:
        hits.add(MISMATCH, folded.words(claim.start(), claim.end()), "no licence number given")
        for agency in sorted(claimed):
            hits.add(MISMATCH, *why_claimed(agency))
    for agency in sorted(claimed - licensed):
        problem = index.agencies[agency].licence_problem(today)
        if problem:
            hits.add(INVALID, *why_claimed(agency), problem)
    phrases = _agency_phrases(folded)
    if phrases and not licensed and not claimed:
        hits.add(UNLICENSED, *phrases, "no licence, name or contact in the register")
    return hits.result()


_KIND_WORDS = {"phone": "phone", "email": "e-mail", "url": "website", "handle": "messenger handle"}
