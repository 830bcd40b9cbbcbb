"""Contacts in an ad: phone numbers, e-mail addresses, messenger handles and web addresses.

Recruiters who traffic ask to be reached by phone or messenger only, and one network reuses
its numbers across many ads: the contacts link ads to each other and to a register of
licensed agencies. Each contact is normalised so that the same one written two ways compares
equal (E.164 for a phone, lower case elsewhere), and is kept only as a keyed hash
(:func:`contact_hash`) outside the evidence store; :func:`mask_contacts` gives the ad text
with every contact replaced by its kind, for display and logs.

Choices, documented because they change what matches:

* Phones are found by ``phonenumbers.PhoneNumberMatcher``. Without a default region only
  numbers written internationally (``+44 …``) are taken; those need only be *possible*
  numbers (fictional ranges such as the UK's 07700 900xxx are not "valid" ones, and a number
  written with ``+`` is rarely anything else). Numbers written nationally need a default
  region and must be *valid*, because a salary ("2500-3000") is a possible number in many
  countries.
* A phone number right after a messenger's name ("WhatsApp: +44 …") is also that
  messenger's handle (``whatsapp:+44…``); a ``wa.me`` or ``viber://`` link gives both.
* A bare ``@name`` belongs to the messenger named just before it ("Telegram @name",
  "IG: @name"); with none named near it, to Telegram when the ad names Telegram anywhere,
  else it is not taken (it could be any platform).
* A web address needs ``http(s)://`` or ``www.``; its value is host and path in lower case,
  without scheme, ``www.``, port, query, fragment or trailing slash. Links to messenger and
  social platforms (``t.me``, ``wa.me``, ``instagram.com``…) are handles, not web addresses.
* Where two findings overlap (a number inside a web address) the one that starts first, or
  on a tie the longer one, wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

import phonenumbers
from phonenumbers import Leniency, PhoneNumberFormat

from tiphub.online.ads import Contact
from tiphub.store import crypto

HASH_CONTEXT = "online.contact"
PLACEHOLDERS = {"phone": "[phone]", "email": "[email]", "handle": "[handle]", "url": "[url]"}
# How far (characters) a messenger's name may stand before the number or @name it labels.
LABEL_REACH = 40

# Platform names as ads write them, in several languages and scripts → the platform.
_PLATFORM_WORDS: dict[str, str] = {
    "whatsapp": "whatsapp",
    "whats app": "whatsapp",
    "whats": "whatsapp",
    "wa": "whatsapp",
    "вотсап": "whatsapp",
    "ватсап": "whatsapp",
    "واتساب": "whatsapp",
    "telegram": "telegram",
    "telegramm": "telegram",
    "tg": "telegram",
    "телеграм": "telegram",
    "телеграмм": "telegram",
    "тг": "telegram",
    "viber": "viber",
    "вайбер": "viber",
    "signal": "signal",
    "skype": "skype",
    "скайп": "skype",
    "wechat": "wechat",
    "weixin": "wechat",
    "微信": "wechat",
    "微信号": "wechat",
    "line": "line",
    "line id": "line",
    "instagram": "instagram",
    "insta": "instagram",
    "ig": "instagram",
    "инстаграм": "instagram",
    "facebook": "facebook",
    "fb": "facebook",
    "messenger": "facebook",
}
# Messengers that are reached by a phone number.
_PHONE_MESSENGERS = {"whatsapp", "telegram", "viber", "signal", "wechat", "line"}
# Short or common words ("line", "signal", "wa") label a handle only when a colon, "ID" or @
# follows them; see _LABELLED_HANDLE.
_PLATFORM_ALTERNATION = "|".join(
    re.escape(word) for word in sorted(_PLATFORM_WORDS, key=len, reverse=True)
)
# Word edges are checked against alphabetic scripts (Latin, Cyrillic, Arabic) and digits,
# not Chinese, which has no spaces between words ("加微信:" is "add on WeChat:").
_LETTER = r"A-Za-z0-9_\u00c0-\u024f\u0400-\u04ff\u0600-\u06ff"
_PLATFORM_WORD = re.compile(
    rf"(?<![{_LETTER}@.])({_PLATFORM_ALTERNATION})(?![{_LETTER}])", re.IGNORECASE
)
_LABELLED_HANDLE = re.compile(
    rf"(?<![{_LETTER}@.])(?P<platform>{_PLATFORM_ALTERNATION})(?![{_LETTER}])"
    r"(?:\s*(?:id|ID|Id))?\s*(?:[:：=]\s*@?|-\s*@|\s+@|@)"
    r"(?P<handle>(?:live:)?[A-Za-z][\w.\-]{2,40}[A-Za-z0-9_])",
    re.IGNORECASE,
)
_BARE_HANDLE = re.compile(r"(?<![\w@./])@(?P<handle>[A-Za-z][A-Za-z0-9_]{3,31})(?![\w@])")
_EMAIL = re.compile(
    r"(?<![\w.+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w\-])"
)
# Link hosts (without www.) → platform: their path's first part is the handle.
_LINK_PLATFORMS = {
    "wa.me": "whatsapp",
    "t.me": "telegram",
    "telegram.me": "telegram",
    "telegram.dog": "telegram",
    "m.me": "facebook",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "m.facebook.com": "facebook",
    "instagram.com": "instagram",
    "instagr.am": "instagram",
    "line.me": "line",
    "signal.me": "signal",
    "api.whatsapp.com": "whatsapp",
    "chat.whatsapp.com": "whatsapp",
}
# Messenger links are written without a scheme too ("t.me/name"); other sites need one.
_PLATFORM_HOSTS = "|".join(
    re.escape(host) for host in sorted(_LINK_PLATFORMS, key=len, reverse=True)
)
_URL = re.compile(
    r"(?:(?:https?|viber|skype|weixin)://|(?<![\w.@/])www\."
    rf"|(?<![\w.@/-])(?:{_PLATFORM_HOSTS})/)"
    r"[^\s<>\"'`{}|\\^\[\]]*",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\"»”’"


@dataclass(frozen=True)
class _Finding:
    start: int
    end: int
    placeholder: str
    contacts: tuple[Contact, ...]


def extract_contacts(text: str, default_region: str | None = None) -> list[Contact]:
    """The contacts in ``text``, normalised, each once, in the order they first appear."""
    seen: set[tuple[str, str]] = set()
    contacts: list[Contact] = []
    for finding in _findings(text, default_region):
        for contact in finding.contacts:
            key = (contact.kind, contact.value)
            if key not in seen:
                seen.add(key)
                contacts.append(contact)
    return contacts


def mask_contacts(text: str, default_region: str | None = None) -> str:
    """``text`` with each contact replaced by ``[phone]``, ``[email]``, ``[handle]`` or
    ``[url]``."""
    parts: list[str] = []
    position = 0
    for finding in _findings(text, default_region):
        parts.append(text[position : finding.start])
        parts.append(finding.placeholder)
        position = finding.end
    parts.append(text[position:])
    return "".join(parts)


def contacts_and_masked_fields(
    fields: Sequence[str | None], default_region: str | None = None
) -> tuple[list[Contact], list[str | None]]:
    """The contacts of an ad's fields read together (joined by newlines, so a messenger
    named in one field labels a handle in the next), each once, and every field masked —
    from one search: finding phone numbers is most of an ingest's time."""
    spans: list[tuple[int, int]] = []
    pieces: list[str] = []
    position = 0
    for value in fields:
        if value:
            spans.append((position, position + len(value)))
            pieces.append(value)
            position += len(value) + 1
        else:
            spans.append((-1, -1))
    joined = "\n".join(pieces)
    findings = _findings(joined, default_region)
    seen: set[tuple[str, str]] = set()
    contacts: list[Contact] = []
    for finding in findings:
        for contact in finding.contacts:
            if (contact.kind, contact.value) not in seen:
                seen.add((contact.kind, contact.value))
                contacts.append(contact)
    masked: list[str | None] = []
    for value, (start, end) in zip(fields, spans, strict=True):
        if not value:
            masked.append(value)
            continue
        parts: list[str] = []
        cursor = start
        for finding in findings:
            if finding.end <= start or finding.start >= end:
                continue
            parts.append(joined[cursor : max(cursor, finding.start)])
            parts.append(finding.placeholder)
            cursor = min(end, finding.end)
        parts.append(joined[cursor:end])
        masked.append("".join(parts))
    return contacts, masked


def contact_hash(contact: Contact) -> str:
    """The keyed hash of a contact (a blind index under the hub's index key): equal for the
    same contact however it was written, useless without the key."""
    digest = crypto.blind_index(HASH_CONTEXT, f"{contact.kind}:{contact.value}")
    if digest is None:
        raise ValueError("an empty contact has no hash")
    return digest


# -- finding ---------------------------------------------------------------------------------


def _findings(text: str, default_region: str | None) -> list[_Finding]:
    """Every contact's place in the text, overlaps resolved: the earliest, then longest, wins."""
    candidates = [
        *_url_findings(text, default_region),
        *_email_findings(text),
        *_phone_findings(text, default_region),
        *_labelled_handle_findings(text),
        *_bare_handle_findings(text),
    ]
    candidates.sort(key=lambda finding: (finding.start, -(finding.end - finding.start)))
    chosen: list[_Finding] = []
    reached = 0
    for finding in candidates:
        if finding.start >= reached and finding.contacts:
            chosen.append(finding)
            reached = finding.end
    return chosen


def _phone(raw: str, region: str | None) -> Contact | None:
    try:
        number = phonenumbers.parse(raw, region or "ZZ")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return _phone_contact(number)


def _phone_contact(number: phonenumbers.PhoneNumber) -> Contact:
    region = phonenumbers.region_code_for_number(number)
    if region is None:
        # A number outside every allocated range (a fictional one) still has a country.
        fallback = phonenumbers.region_code_for_country_code(number.country_code or 0)
        region = None if fallback in ("ZZ", "001") else fallback
    return Contact("phone", phonenumbers.format_number(number, PhoneNumberFormat.E164), region)


def _phone_findings(text: str, default_region: str | None) -> Iterator[_Finding]:
    matches = list(phonenumbers.PhoneNumberMatcher(text, "ZZ", leniency=Leniency.POSSIBLE))
    if default_region:
        matches += phonenumbers.PhoneNumberMatcher(
            text, default_region.upper(), leniency=Leniency.VALID
        )
    for match in matches:
        phone = _phone_contact(match.number)
        contacts: list[Contact] = []
        for platform in reversed(_platforms_before(text, match.start)):
            if platform in _PHONE_MESSENGERS:
                contacts.append(Contact("handle", f"{platform}:{phone.value}"))
        contacts.append(phone)
        yield _Finding(match.start, match.end, PLACEHOLDERS["phone"], tuple(contacts))


def _platforms_before(text: str, start: int) -> list[str]:
    """The messengers named just before ``start`` ("WhatsApp/Viber: +44…"), nearest first."""
    window = text[max(0, start - LABEL_REACH) : start].rsplit("\n", 1)[-1]
    platforms: list[str] = []
    boundary = len(window)
    for found in reversed(list(_PLATFORM_WORD.finditer(window))):
        if not _is_label_gap(window[found.end() : boundary]):
            break
        platform = _PLATFORM_WORDS[found.group(1).lower()]
        if platform not in platforms:
            platforms.append(platform)
        boundary = found.start()
    return platforms


def _is_label_gap(gap: str) -> bool:
    """Whether the words between a messenger's name and what follows still label it: a few
    separators and at most two short words ("or", "number"), no sentence end."""
    if re.search(r"[.!?;]\s", gap):
        return False
    return len(re.findall(r"[^\W\d_]+", gap)) <= 2


def _email_findings(text: str) -> Iterator[_Finding]:
    for match in _EMAIL.finditer(text):
        yield _Finding(
            match.start(),
            match.end(),
            PLACEHOLDERS["email"],
            (Contact("email", match.group(0).lower()),),
        )


def _labelled_handle_findings(text: str) -> Iterator[_Finding]:
    for match in _LABELLED_HANDLE.finditer(text):
        platform = _PLATFORM_WORDS[match.group("platform").lower()]
        handle = match.group("handle").rstrip(".-").lower()
        begin = match.start("handle")
        if text[begin - 1 : begin] == "@":
            begin -= 1
        yield _Finding(
            begin,
            match.start("handle") + len(handle),
            PLACEHOLDERS["handle"],
            (Contact("handle", f"{platform}:{handle}"),),
        )


def _bare_handle_findings(text: str) -> Iterator[_Finding]:
    mentions_telegram = re.search(r"telegram|телеграм", text, re.IGNORECASE) is not None
    for match in _BARE_HANDLE.finditer(text):
        named = _platforms_before(text, match.start())
        platform = named[0] if named else None
        if platform is None and mentions_telegram:
            platform = "telegram"
        if platform is None:
            continue
        yield _Finding(
            match.start(),
            match.end(),
            PLACEHOLDERS["handle"],
            (Contact("handle", f"{platform}:{match.group('handle').lower()}"),),
        )


def _url_findings(text: str, default_region: str | None) -> Iterator[_Finding]:
    for match in _URL.finditer(text):
        raw = match.group(0).rstrip(_TRAILING_PUNCTUATION)
        contacts = _link_contacts(raw, default_region)
        placeholder = (
            PLACEHOLDERS["handle"]
            if contacts and contacts[0].kind == "handle"
            else (PLACEHOLDERS["url"])
        )
        yield _Finding(match.start(), match.start() + len(raw), placeholder, tuple(contacts))


def _link_contacts(raw: str, default_region: str | None) -> list[Contact]:
    """What one link is: a messenger handle (and its phone), or a web address."""
    address = raw if "://" in raw else f"http://{raw}"
    try:
        parts = urlsplit(address)
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return []
    scheme = parts.scheme.lower()
    if scheme == "viber":
        number = (parse_qs(parts.query).get("number") or [""])[0]
        return _messenger_phone("viber", number, default_region)
    if scheme in ("skype", "weixin"):
        handle = (host or parts.path.strip("/")).split("?")[0]
        messenger = "skype" if scheme == "skype" else "wechat"
        return [Contact("handle", f"{messenger}:{handle.lower()}")] if handle else []
    if not host or "." not in host:
        return []
    bare_host = host.removeprefix("www.")
    platform = _LINK_PLATFORMS.get(bare_host)
    segments = [unquote(part) for part in parts.path.split("/") if part]
    if platform is not None:
        return _platform_link(platform, bare_host, segments, parts, default_region)
    path = "/".join(segment.lower() for segment in segments)
    return [Contact("url", f"{bare_host}/{path}" if path else bare_host)]


def _platform_link(
    platform: str,
    host: str,
    segments: list[str],
    parts: SplitResult,
    default_region: str | None,
) -> list[Contact]:
    query = parse_qs(parts.query)
    fragment = parts.fragment
    if host == "api.whatsapp.com":
        return _messenger_phone("whatsapp", (query.get("phone") or [""])[0], default_region)
    if host == "wa.me":
        return _messenger_phone("whatsapp", segments[0] if segments else "", default_region)
    if host == "signal.me":
        # signal.me/#p/+447700900123 carries the number in the fragment.
        number = fragment.removeprefix("p/")
        if number.startswith("+"):
            return _messenger_phone("signal", number, default_region)
        return [Contact("handle", f"signal:{fragment.lower()}")] if fragment else []
    if platform == "facebook" and segments and segments[0] == "profile.php":
        identifier = (query.get("id") or [""])[0]
        return [Contact("handle", f"facebook:{identifier}")] if identifier else []
    skip = {"s", "joinchat", "ti", "p", "g", "invite"}
    handle = next((part for part in segments if part.lower() not in skip), "")
    handle = handle.lstrip("~@+").lower()
    if not handle:
        return []
    return [Contact("handle", f"{platform}:{handle}")]


def _messenger_phone(platform: str, number: str, default_region: str | None) -> list[Contact]:
    digits = re.sub(r"[^\d+]", "", number)
    if not digits:
        return []
    # Links carry the number in international form, with or without its "+".
    phone = _phone(digits if digits.startswith("+") else f"+{digits}", default_region)
    if phone is None:
        return [Contact("handle", f"{platform}:{digits.lower()}")]
    return [Contact("handle", f"{platform}:{phone.value}"), phone]
