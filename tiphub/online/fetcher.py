"""Fetch the pages a user lists, politely, so that ``tiphub online ingest`` can read them.

Nothing in tiphub crawls: this fetches exactly the URLs it is given, follows no links and
runs only when asked (``tiphub online fetch URLS_FILE``). What it does for each URL:

* **http and https only**; ``file:``, ``ftp:``, ``data:``, ``javascript:`` and the rest are
  refused (``refused_scheme``).
* **No private addresses** unless ``allow_private``: a hub that fetched whatever a user typed
  could be made to read its own intranet (server-side request forgery). The host's addresses
  are checked before anything is sent, and the default opener checks again the address it
  actually connected to, so a name that resolves differently the second time is caught too.
  The default opener therefore connects directly, never through the environment's proxy (the
  peer would be the proxy); give an ``opener`` of your own to go through one.
* **robots.txt** of each origin is fetched once, before the first page, and obeyed
  (:mod:`urllib.robotparser`, whose rules match by first prefix, without wildcards). As Google
  documents: a 4xx answer means no rules (everything allowed), a 429, a 5xx or a network
  error means everything is disallowed, redirects are followed five times. A ``Crawl-delay``
  or ``Request-rate`` longer than ``min_interval_s`` is honoured; one longer than
  :data:`MAX_CRAWL_DELAY_S` is taken as a wish not to be fetched at all.
* **One request per host per interval** (``min_interval_s``, the robots.txt request included).
* **Redirects** are followed at most :data:`MAX_REDIRECTS` times, each target checked again
  for scheme, private address and robots.txt.
* **Bounded**: at most ``max_bytes`` read (else ``too_large``, nothing saved); only HTML, XHTML,
  RSS, Atom and XML are saved (else ``unsupported_type``), compressed bodies are not accepted.

Each saved page is written with its bytes exactly as ``FOLDER/<sha256 prefix>.html`` (``.xml``
for feeds), 0600, and ``FOLDER/fetched.jsonl`` gets one line per URL (appended, so a folder
can serve several runs): ``url``, ``status`` (one of :data:`OUTCOMES`), ``file``, ``sha256``,
``fetched_at`` (UTC), ``content_type``, ``reason`` when skipped, ``http_status``,
``final_url`` after redirects and ``size``. Reasons never quote page content.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import ipaddress
import json
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import urllib.robotparser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, Protocol

from tiphub.files import make_private_dir, open_private, staged_file

OUTCOMES = (
    "saved",
    "disallowed_by_robots",
    "refused_scheme",
    "refused_private",
    "too_large",
    "http_error",
    "network_error",
    "unsupported_type",
)
DEFAULT_USER_AGENT = "tiphub-online/1 (evidence collection of user-listed URLs)"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/xml", "text/xml"}
)
ALLOWED_SCHEMES = frozenset({"http", "https"})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# Google reads the first 500 KiB of a robots.txt and ignores the rest.
ROBOTS_MAX_BYTES = 500 * 1024
# A host asking for more than this between requests is taken as not wanting to be fetched.
MAX_CRAWL_DELAY_S = 300.0
# A body that trickles in is abandoned after this many times the socket timeout.
READ_DEADLINE_FACTOR = 3.0
DIGEST_PREFIX = 16
LOG_NAME = "fetched.jsonl"
CHUNK = 64 * 1024


class Opener(Protocol):
    """What fetches one request: :class:`urllib.request.OpenerDirector` fits. It must not
    follow redirects itself (3xx answers come back as :class:`urllib.error.HTTPError`, as
    :func:`default_opener` arranges), or the checks on redirect targets are bypassed."""

    def open(self, fullurl: Any, data: Any = None, timeout: float = ...) -> Any: ...


@dataclass(frozen=True)
class FetchOutcome:
    """What became of one listed URL."""

    url: str
    outcome: str  # one of OUTCOMES
    reason: str | None = None  # why it was not saved; never page content
    http_status: int | None = None
    final_url: str | None = None  # after redirects, when it differs from url
    file: str | None = None  # name of the saved file inside the folder
    sha256: str | None = None
    size: int | None = None
    content_type: str | None = None
    fetched_at: str | None = None  # UTC, ISO 8601

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "status": self.outcome,
            "file": self.file,
            "sha256": self.sha256,
            "fetched_at": self.fetched_at,
            "content_type": self.content_type,
            "reason": self.reason,
            "http_status": self.http_status,
            "final_url": self.final_url,
            "size": self.size,
        }


@dataclass(frozen=True)
class FetchReport:
    """Every listed URL's outcome, in the order given (repeated URLs once)."""

    folder: Path
    outcomes: tuple[FetchOutcome, ...]

    @property
    def counts(self) -> dict[str, int]:
        """Number of URLs per outcome, every outcome named (zeros included)."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for item in self.outcomes:
            counts[item.outcome] += 1
        return counts

    @property
    def saved_files(self) -> list[Path]:
        """The files written or found already written, each once."""
        names = dict.fromkeys(item.file for item in self.outcomes if item.file)
        return [self.folder / name for name in names if name]


class PrivateAddressError(OSError):
    """The connection reached an address that is not on the public internet."""


def read_url_list(path: Path) -> list[str]:
    """The URLs in a text file: one a line; blank lines and lines starting with ``#`` skipped."""
    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for an address on the public internet: not private, loopback, link-local,
    shared (CGNAT), documentation, multicast, reserved or unspecified."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not address.is_multicast


def _guarded_create_connection(
    address: tuple[str, int],
    timeout: float | None = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    connection = socket.create_connection(address, timeout, source_address)
    peer = ipaddress.ip_address(connection.getpeername()[0].split("%", 1)[0])
    if not is_public_address(peer):
        connection.close()
        raise PrivateAddressError(f"{address[0]} connected to a non-public address")
    return connection


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_create_connection


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self.guarded_context = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_GuardedHTTPSConnection, req, context=self.guarded_context)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand 3xx answers back as HTTPError: the fetcher checks each target before following."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def default_opener(allow_private: bool = False) -> urllib.request.OpenerDirector:
    """An opener that connects directly (no proxy), follows no redirect, and unless
    ``allow_private`` refuses to talk to a non-public address it connected to."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirect()]
    if not allow_private:
        handlers += [_GuardedHTTPHandler(), _GuardedHTTPSHandler(ssl.create_default_context())]
    return urllib.request.build_opener(*handlers)


class _NotFetchedError(Exception):
    """One URL is not fetched, for a stated reason."""

    def __init__(self, outcome: str, reason: str, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.http_status = http_status


@dataclass(frozen=True)
class _Rules:
    """One origin's robots.txt: its parsed rules, or a verdict on every path."""

    parser: urllib.robotparser.RobotFileParser | None = None
    verdict: bool | None = None  # True: no rules; False: nothing may be fetched
    note: str | None = None  # why nothing may be fetched
    outcome: str = "disallowed_by_robots"  # or refused_private: the origin itself is private

    def allows(self, user_agent: str, url: str) -> bool:
        if self.parser is None:
            return bool(self.verdict)
        return self.parser.can_fetch(user_agent, url)


def _unreadable(why: str) -> _Rules:
    return _Rules(
        verdict=False, note=f"robots.txt could not be read ({why}); everything disallowed"
    )


@dataclass
class _Answer:
    status: int
    headers: Message
    response: Any  # to read the body from, then close


@dataclass
class _Fetcher:
    opener: Opener
    user_agent: str
    min_interval_s: float
    max_bytes: int
    timeout_s: float
    allow_private: bool
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    now: Callable[[], dt.datetime]
    resolve: Callable[[str, int], list[str]]
    robots: dict[str, _Rules] = field(default_factory=dict)
    last_request: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, float] = field(default_factory=dict)

    # -- one listed URL ---------------------------------------------------------------------

    def fetch(self, url: str) -> tuple[FetchOutcome, bytes | None]:
        current = url
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                self._check_target(current)
                self._check_robots(current)
                answer = self._open(current)
                if answer.status in REDIRECT_STATUSES:
                    current = self._redirect_target(current, answer)
                    continue
                return self._take(url, current, answer)
            raise _NotFetchedError("http_error", f"more than {MAX_REDIRECTS} redirects")
        except _NotFetchedError as refusal:
            outcome = FetchOutcome(
                url=url,
                outcome=refusal.outcome,
                reason=refusal.reason,
                http_status=refusal.http_status,
                final_url=current if current != url else None,
            )
            return outcome, None

    def _take(self, url: str, current: str, answer: _Answer) -> tuple[FetchOutcome, bytes]:
        """The page's outcome and bytes; raises _NotFetchedError when it is not to be saved."""
        try:
            if not 200 <= answer.status < 300:
                raise _NotFetchedError(
                    "http_error", f"the server answered {answer.status}", answer.status
                )
            content_type = answer.headers.get("Content-Type")
            media_type = answer.headers.get_content_type().lower()
            if media_type not in HTML_TYPES | FEED_TYPES:
                raise _NotFetchedError(
                    "unsupported_type",
                    f"content type {media_type[:80]} is not HTML or a feed",
                    answer.status,
                )
            encoding = (answer.headers.get("Content-Encoding") or "identity").strip().lower()
            if encoding != "identity":
                raise _NotFetchedError(
                    "unsupported_type",
                    f"compressed body ({encoding[:40]}) not accepted",
                    answer.status,
                )
            body = self._read(answer, self.max_bytes, truncate=False)
            if body is None:
                raise _NotFetchedError(
                    "too_large", f"larger than {self.max_bytes:,} bytes; not saved", answer.status
                )
        finally:
            _close(answer.response)
        digest = hashlib.sha256(body).hexdigest()
        suffix = ".xml" if media_type in FEED_TYPES else ".html"
        outcome = FetchOutcome(
            url=url,
            outcome="saved",
            http_status=answer.status,
            final_url=current if current != url else None,
            file=f"{digest[:DIGEST_PREFIX]}{suffix}",
            sha256=digest,
            size=len(body),
            content_type=content_type,
            fetched_at=self.now().astimezone(dt.UTC).isoformat(timespec="seconds"),
        )
        return outcome, body

    def _redirect_target(self, current: str, answer: _Answer) -> str:
        _close(answer.response)
        location = answer.headers.get("Location")
        if not location:
            raise _NotFetchedError(
                "http_error", f"redirect ({answer.status}) without a Location", answer.status
            )
        target, _fragment = urllib.parse.urldefrag(urllib.parse.urljoin(current, location.strip()))
        return target

    # -- checks -----------------------------------------------------------------------------

    def _check_target(self, url: str) -> None:
        """Refuse what is not http(s) with a host, and hosts with a non-public address."""
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:
            raise _NotFetchedError("refused_scheme", "not a well-formed URL") from None
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            shown = scheme or "no scheme"
            raise _NotFetchedError("refused_scheme", f"{shown}: only http and https are fetched")
        if not parts.hostname:
            raise _NotFetchedError("refused_scheme", "the URL names no host")
        if self.allow_private:
            return
        port = port or (443 if scheme == "https" else 80)
        try:
            addresses = self.resolve(parts.hostname, port)
        except (OSError, UnicodeError):
            raise _NotFetchedError(
                "network_error", f"{parts.hostname} could not be resolved"
            ) from None
        for address in addresses:
            try:
                parsed = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                raise _NotFetchedError(
                    "refused_private", f"{parts.hostname}: unusable address"
                ) from None
            if not is_public_address(parsed):
                raise _NotFetchedError(
                    "refused_private",
                    f"{parts.hostname} has a non-public address (private, loopback, link-local "
                    "or reserved)",
                )
        if not addresses:
            raise _NotFetchedError("network_error", f"{parts.hostname} has no address")

    def _check_robots(self, url: str) -> None:
        origin = _origin(url)
        if origin not in self.robots:
            self.robots[origin] = self._load_robots(origin)
        rules = self.robots[origin]
        if rules.allows(self.user_agent, url):
            return
        raise _NotFetchedError(rules.outcome, rules.note or "robots.txt disallows this path")

    def _load_robots(self, origin: str) -> _Rules:
        current = f"{origin}/robots.txt"
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                self._check_target(current)
                answer = self._open(current)
                if answer.status in REDIRECT_STATUSES:
                    current = self._redirect_target(current, answer)
                    continue
                if 200 <= answer.status < 300:
                    try:
                        body = self._read(answer, ROBOTS_MAX_BYTES, truncate=True) or b""
                    finally:
                        _close(answer.response)
                    parser = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
                    parser.parse(body.decode("utf-8", errors="replace").splitlines())
                    return self._honour_delay(origin, parser)
                _close(answer.response)
                if 400 <= answer.status < 500 and answer.status != 429:
                    return _Rules(verdict=True)  # as Google reads a 4xx: the site sets no rules
                return _unreadable(f"robots.txt answered {answer.status}")
        except _NotFetchedError as refusal:
            if refusal.outcome == "refused_private" and current == f"{origin}/robots.txt":
                # the origin itself answered from a non-public address: so would its pages
                return _Rules(verdict=False, note=refusal.reason, outcome=refusal.outcome)
            return _unreadable(refusal.reason)
        return _Rules(verdict=True)  # not found within five redirects: as Google, no rules

    def _honour_delay(self, origin: str, parser: urllib.robotparser.RobotFileParser) -> _Rules:
        delays = [float(parser.crawl_delay(self.user_agent) or 0)]
        rate = parser.request_rate(self.user_agent)
        if rate is not None and rate.requests > 0:
            delays.append(rate.seconds / rate.requests)
        delay = max(delays)
        if delay > MAX_CRAWL_DELAY_S:
            return _Rules(
                verdict=False,
                note=f"robots.txt asks for {delay:g} s between requests (more than "
                f"{MAX_CRAWL_DELAY_S:g} s); not fetched",
            )
        host = _host(origin)
        self.intervals[host] = max(self.intervals.get(host, 0.0), delay)
        return _Rules(parser=parser)

    # -- the wire ---------------------------------------------------------------------------

    def _wait_turn(self, host: str) -> None:
        interval = max(self.min_interval_s, self.intervals.get(host, 0.0))
        last = self.last_request.get(host)
        if last is not None:
            wait = last + interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self.last_request[host] = self.clock()

    def _open(self, url: str) -> _Answer:
        self._wait_turn(_host(url))
        request = urllib.request.Request(
            url,
            headers={
                "User-Agent": self.user_agent,
                "Accept": "text/html,application/xhtml+xml,application/rss+xml,"
                "application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,*/*;q=0.1",
                "Accept-Encoding": "identity",
            },
        )
        try:
            response = self.opener.open(request, timeout=self.timeout_s)
        except urllib.error.HTTPError as error:
            return _Answer(error.code, error.headers, error)
        except urllib.error.URLError as error:
            if isinstance(error.reason, PrivateAddressError):
                raise _NotFetchedError(
                    "refused_private", "connected to a non-public address"
                ) from None
            raise _NotFetchedError("network_error", _network_reason(error.reason)) from None
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise _NotFetchedError("network_error", _network_reason(error)) from None
        status = getattr(response, "status", None) or response.getcode()
        return _Answer(int(status), response.headers, response)

    def _read(self, answer: _Answer, limit: int, *, truncate: bool) -> bytes | None:
        """The body, at most ``limit`` bytes: cut there when ``truncate``, else None."""
        declared = answer.headers.get("Content-Length")
        if not truncate and declared and declared.strip().isdigit() and int(declared) > limit:
            return None
        deadline = self.clock() + READ_DEADLINE_FACTOR * self.timeout_s
        chunks: list[bytes] = []
        total = 0
        try:
            while total <= limit:
                chunk = answer.response.read(min(CHUNK, limit + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if self.clock() > deadline:
                    raise _NotFetchedError(
                        "network_error", "the body arrived too slowly", answer.status
                    )
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise _NotFetchedError("network_error", _network_reason(error), answer.status) from None
        body = b"".join(chunks)
        if total > limit:
            return body[:limit] if truncate else None
        return body


def fetch_listed(
    urls: Sequence[str],
    folder: Path,
    *,
    user_agent: str = DEFAULT_USER_AGENT,
    min_interval_s: float = 10.0,
    max_bytes: int = 5_000_000,
    timeout_s: float = 20.0,
    allow_private: bool = False,
    opener: Opener | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], dt.datetime] | None = None,
    resolve: Callable[[str, int], list[str]] | None = None,
) -> FetchReport:
    """Fetch each listed URL once (no links followed) into ``folder``, which is created 0700.

    ``clock``/``sleep`` pace the requests (inject fakes to test without waiting), ``now``
    stamps ``fetched_at`` and ``resolve`` gives a host's addresses (``socket.getaddrinfo``
    by default). Returns every URL's outcome; ``folder/fetched.jsonl`` gets the same.
    """
    if min_interval_s < 0 or max_bytes <= 0 or timeout_s <= 0:
        raise ValueError("min_interval_s must be ≥ 0, max_bytes and timeout_s > 0")
    folder = make_private_dir(Path(folder))
    fetcher = _Fetcher(
        opener=opener if opener is not None else default_opener(allow_private),
        user_agent=user_agent,
        min_interval_s=min_interval_s,
        max_bytes=max_bytes,
        timeout_s=timeout_s,
        allow_private=allow_private,
        clock=clock,
        sleep=sleep,
        now=now or (lambda: dt.datetime.now(dt.UTC)),
        resolve=resolve or _resolve,
    )
    outcomes: list[FetchOutcome] = []
    with open_private(folder / LOG_NAME, "a", encoding="utf-8") as log:
        for url in dict.fromkeys(url.strip() for url in urls if url.strip()):
            outcome, body = fetcher.fetch(url)
            if body is not None and outcome.file:
                _save(folder / outcome.file, body)
            outcomes.append(outcome)
            log.write(json.dumps(outcome.to_dict(), ensure_ascii=False) + "\n")
            log.flush()
    return FetchReport(folder=folder, outcomes=tuple(outcomes))


def _save(path: Path, body: bytes) -> None:
    if path.exists() and path.read_bytes() == body:
        return  # the same bytes listed under another URL: one file serves both
    with staged_file(path) as staged:
        staged.write_bytes(body)


def _resolve(host: str, port: int) -> list[str]:
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{scheme}://{host}{port}"


def _host(url: str) -> str:
    return (urllib.parse.urlsplit(url).hostname or "").lower()


def _network_reason(error: object) -> str:
    """A short cause that names no page content: the exception's kind, and for socket and
    TLS errors their message (which names hosts, never bodies)."""
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(error, OSError | ssl.SSLError) and not isinstance(error, urllib.error.URLError):
        detail = getattr(error, "strerror", None) or type(error).__name__
        return f"{type(error).__name__}: {detail}"
    return type(error).__name__ if not isinstance(error, str) else error


def _close(response: Any) -> None:
    with contextlib.suppress(Exception):
        response.close()
