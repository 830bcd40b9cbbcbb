"""The fetcher of user-listed URLs, against a web server on 127.0.0.1 in a thread (and fake
openers): robots.txt, the per-host interval on a fake clock, size and type limits, redirects
re-checked, private addresses and foreign schemes refused. Nothing leaves this machine."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import ipaddress
import itertools
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.online.fetcher import (
    DEFAULT_USER_AGENT,
    LOG_NAME,
    OUTCOMES,
    FetchReport,
    default_opener,
    fetch_listed,
    is_public_address,
    read_url_list,
)

SECRET = b"BODY-MARKER-7f3a"  # in every body: must never reach a reason, the log or the console
ROBOTS = b"User-agent: *\nDisallow: /private\n"
AD_PAGE = (
    b"<!doctype html><html><head><title>Cleaners wanted abroad</title></head><body>"
    b"<p>Work in Dubai, travel and housing paid, no experience needed. " + SECRET + b"</p>"
    b"</body></html>"
)
FEED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Jobs</title>'
    b"<item><title>Drivers</title><link>https://jobs.example/1</link>"
    b"<description>Drivers wanted " + SECRET + b"</description></item></channel></rss>"
)
HUGE = b"<html><body>" + SECRET + b"x" * 5000 + b"</body></html>"
PNG = b"\x89PNG\r\n\x1a\n" + SECRET + b"\x00" * 64


class Site:
    """What the local server answers, and what it was asked."""

    def __init__(self, robots_status: int = 200, robots_body: bytes = ROBOTS) -> None:
        html = {"Content-Type": "text/html; charset=utf-8"}
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {
            "/robots.txt": (robots_status, {"Content-Type": "text/plain"}, robots_body),
            "/ad.html": (200, html, AD_PAGE),
            "/private/ad.html": (200, html, AD_PAGE.replace(b"Dubai", b"Doha")),
            "/feed.xml": (200, {"Content-Type": "application/rss+xml"}, FEED),
            "/go-ad": (301, {"Location": "/ad.html"}, b""),
            "/go-private": (302, {"Location": "/private/ad.html"}, b""),
            "/go-file": (302, {"Location": "file:///etc/passwd"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/huge.html": (200, html, HUGE),
            "/stream.html": (200, {**html, "X-No-Length": "1"}, HUGE),
            "/image.png": (200, {"Content-Type": "image/png"}, PNG),
            "/gzipped.html": (200, {**html, "Content-Encoding": "gzip"}, b"\x1f\x8b" + SECRET),
            "/gone": (404, html, b"<html>" + SECRET + b"</html>"),
        }
        self.requests: list[str] = []
        self.user_agents: list[str] = []
        self.port = 0

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


def _handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append(self.path)
            site.user_agents.append(self.headers.get("User-Agent", ""))
            status, headers, body = site.routes.get(self.path, (404, {}, b"not here"))
            self.send_response(status)
            for name, value in headers.items():
                if name != "X-No-Length":
                    self.send_header(name, value)
            if "X-No-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client may stop reading early
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    return Handler


@contextlib.contextmanager
def serving(site: Site) -> Iterator[Site]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def site() -> Iterator[Site]:
    with serving(Site()) as running:
        yield running


class FakeClock:
    """A monotonic clock that only moves when the fetcher sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingOpener:
    """The default opener, noting when (on the fake clock) each request went to which host."""

    def __init__(self, clock: FakeClock, allow_private: bool = True) -> None:
        self.inner = default_opener(allow_private=allow_private)
        self.clock = clock
        self.log: list[tuple[float, str]] = []

    def open(self, fullurl: Any, data: Any = None, timeout: float = 10.0) -> Any:
        self.log.append((self.clock(), urllib.request.Request(fullurl.full_url).host))
        return self.inner.open(fullurl, data, timeout)


def fetch(site: Site, paths: list[str], folder: Path, **options: Any) -> FetchReport:
    options.setdefault("allow_private", True)
    options.setdefault("min_interval_s", 0.0)
    return fetch_listed([site.url(path) for path in paths], folder, **options)


def by_url(report: FetchReport) -> dict[str, Any]:
    return {item.url: item for item in report.outcomes}


def test_saves_allowed_pages_byte_for_byte_with_a_log(site: Site, tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    report = fetch(site, ["/ad.html", "/feed.xml"], folder)

    assert [item.outcome for item in report.outcomes] == ["saved", "saved"]
    page, feed = report.outcomes
    assert page.sha256 == hashlib.sha256(AD_PAGE).hexdigest()
    assert page.file == f"{page.sha256[:16]}.html"
    assert feed.file is not None and feed.file.endswith(".xml")
    assert (folder / page.file).read_bytes() == AD_PAGE
    assert (folder / feed.file).read_bytes() == FEED
    assert (folder / page.file).stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700
    lines = [json.loads(line) for line in (folder / LOG_NAME).read_text().splitlines()]
    assert [line["url"] for line in lines] == [site.url("/ad.html"), site.url("/feed.xml")]
    assert lines[0]["status"] == "saved" and lines[0]["file"] == page.file
    assert lines[0]["sha256"] == page.sha256
    assert lines[0]["content_type"] == "text/html; charset=utf-8"
    assert lines[0]["fetched_at"].endswith("+00:00")
    assert report.counts["saved"] == 2 and sum(report.counts.values()) == 2
    assert set(report.counts) == set(OUTCOMES)
    assert all(agent == DEFAULT_USER_AGENT for agent in site.user_agents)
    # robots.txt once for the host, then only the listed pages: no link followed
    assert site.requests == ["/robots.txt", "/ad.html", "/feed.xml"]


def test_saved_pages_are_what_ingest_reads(site: Site, tmp_path: Path) -> None:
    from tiphub.online.ingest import read_inputs

    report = fetch(site, ["/ad.html"], tmp_path)
    read = read_inputs(report.saved_files)

    assert not read.errors
    assert len(read.ads) == 1 and "Dubai" in read.ads[0].text


def test_robots_txt_is_obeyed_for_pages_and_redirect_targets(site: Site, tmp_path: Path) -> None:
    report = fetch(site, ["/private/ad.html", "/go-private", "/go-ad"], tmp_path)
    outcomes = by_url(report)

    assert outcomes[site.url("/private/ad.html")].outcome == "disallowed_by_robots"
    redirected = outcomes[site.url("/go-private")]
    assert redirected.outcome == "disallowed_by_robots"
    assert redirected.final_url == site.url("/private/ad.html")
    allowed = outcomes[site.url("/go-ad")]
    assert allowed.outcome == "saved" and allowed.final_url == site.url("/ad.html")
    assert "/private/ad.html" not in site.requests
    assert site.requests.count("/robots.txt") == 1


def test_limits_on_size_type_status_and_redirects(site: Site, tmp_path: Path) -> None:
    paths = [
        "/huge.html",
        "/stream.html",
        "/image.png",
        "/gzipped.html",
        "/gone",
        "/loop",
        "/go-file",
    ]
    report = fetch(site, paths, tmp_path, max_bytes=1000)
    outcomes = {path: by_url(report)[site.url(path)] for path in paths}

    assert outcomes["/huge.html"].outcome == "too_large"
    assert outcomes["/stream.html"].outcome == "too_large"
    assert outcomes["/image.png"].outcome == "unsupported_type"
    assert outcomes["/gzipped.html"].outcome == "unsupported_type"
    assert outcomes["/gone"].outcome == "http_error" and outcomes["/gone"].http_status == 404
    assert outcomes["/loop"].outcome == "http_error"
    assert "redirects" in (outcomes["/loop"].reason or "")
    assert site.requests.count("/loop") == 6  # the URL and five redirects, no more
    assert outcomes["/go-file"].outcome == "refused_scheme"
    assert outcomes["/go-file"].final_url == "file:///etc/passwd"
    assert report.saved_files == []
    assert sorted(path.name for path in tmp_path.iterdir()) == [LOG_NAME]
    # reasons and the log never quote page content
    assert all(SECRET.decode() not in (item.reason or "") for item in report.outcomes)
    assert SECRET.decode() not in (tmp_path / LOG_NAME).read_text()


def test_one_request_per_host_per_interval_robots_included(site: Site, tmp_path: Path) -> None:
    clock = FakeClock()
    opener = RecordingOpener(clock)
    urls = [site.url("/ad.html"), site.url("/ad.html", "localhost"), site.url("/feed.xml")]

    report = fetch_listed(
        urls,
        tmp_path,
        min_interval_s=10.0,
        allow_private=True,
        opener=opener,
        clock=clock,
        sleep=clock.sleep,
    )

    assert [item.outcome for item in report.outcomes] == ["saved"] * 3
    for host in ("127.0.0.1", "localhost"):
        times = [moment for moment, seen in opener.log if seen.startswith(host)]
        assert len(times) >= 2
        assert all(later - earlier >= 10.0 for earlier, later in itertools.pairwise(times))
    # the two hosts do not wait for each other: 5 requests, only 2 intervals of waiting
    assert clock.now - 1000.0 == pytest.approx(20.0)


def test_crawl_delay_longer_than_the_interval_is_honoured(tmp_path: Path) -> None:
    robots = b"User-agent: *\nCrawl-delay: 30\nDisallow: /private\n"
    with serving(Site(robots_body=robots)) as running:
        clock = FakeClock()
        opener = RecordingOpener(clock)
        report = fetch_listed(
            [running.url("/ad.html"), running.url("/feed.xml")],
            tmp_path,
            min_interval_s=10.0,
            allow_private=True,
            opener=opener,
            clock=clock,
            sleep=clock.sleep,
        )

    assert report.counts["saved"] == 2
    times = [moment for moment, _host in opener.log]
    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [30.0, 30.0]


def test_unreasonable_crawl_delay_means_not_fetched(tmp_path: Path) -> None:
    with serving(Site(robots_body=b"User-agent: *\nCrawl-delay: 86400\n")) as running:
        report = fetch(running, ["/ad.html"], tmp_path)

    assert report.outcomes[0].outcome == "disallowed_by_robots"
    assert running.requests == ["/robots.txt"]


@pytest.mark.parametrize(
    ("robots_status", "expected"),
    [
        (404, "saved"),
        (403, "saved"),
        (500, "disallowed_by_robots"),
        (503, "disallowed_by_robots"),
        (429, "disallowed_by_robots"),
    ],
)
def test_robots_answer_status_as_google_reads_it(
    robots_status: int, expected: str, tmp_path: Path
) -> None:
    with serving(Site(robots_status=robots_status, robots_body=b"oops")) as running:
        report = fetch(running, ["/ad.html"], tmp_path)

    assert report.outcomes[0].outcome == expected
    assert ("/ad.html" in running.requests) == (expected == "saved")


def test_robots_agent_groups_apply_to_our_agent(tmp_path: Path) -> None:
    robots = b"User-agent: tiphub-online\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    with serving(Site(robots_body=robots)) as running:
        ours = fetch(running, ["/ad.html"], tmp_path / "ours")
        other = fetch(running, ["/feed.xml"], tmp_path / "other", user_agent="OtherBot/2")

    assert ours.outcomes[0].outcome == "disallowed_by_robots"
    assert other.outcomes[0].outcome == "saved"


class FakeOpener:
    """Answers from a table instead of the network; raises what urllib would."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def open(self, fullurl: Any, data: Any = None, timeout: float = 10.0) -> Any:
        url = fullurl.full_url
        self.asked.append(url)
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _http_error(url: str, code: int, **headers: str) -> urllib.error.HTTPError:
    message = Message()
    for name, value in headers.items():
        message[name] = value
    return urllib.error.HTTPError(url, code, "status", message, io.BytesIO(SECRET))


def _echo(host: str, port: int) -> list[str]:
    return [host]  # IP literals only in these tests: no name is looked up


def test_redirect_to_a_private_address_is_refused(tmp_path: Path) -> None:
    start = "http://93.184.216.34/job"
    opener = FakeOpener(
        {
            "http://93.184.216.34/robots.txt": _http_error("r", 404),
            start: _http_error(start, 302, Location="http://10.1.2.3/admin"),
        }
    )
    report = fetch_listed([start], tmp_path, opener=opener, resolve=_echo, min_interval_s=0.0)

    assert report.outcomes[0].outcome == "refused_private"
    assert report.outcomes[0].final_url == "http://10.1.2.3/admin"
    assert not any("10.1.2.3" in url for url in opener.asked)


def test_robots_network_error_disallows_the_host(tmp_path: Path) -> None:
    start = "http://93.184.216.34/job"
    opener = FakeOpener(
        {"http://93.184.216.34/robots.txt": urllib.error.URLError(ConnectionRefusedError(111))}
    )
    report = fetch_listed([start], tmp_path, opener=opener, resolve=_echo, min_interval_s=0.0)

    assert report.outcomes[0].outcome == "disallowed_by_robots"
    assert "could not be read" in (report.outcomes[0].reason or "")
    assert opener.asked == ["http://93.184.216.34/robots.txt"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/ad.html",
        "http://[::1]/ad.html",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_private_addresses_refused_without_allow_private(url: str, tmp_path: Path) -> None:
    opener = FakeOpener({})
    report = fetch_listed([url], tmp_path, opener=opener, min_interval_s=0.0)

    assert report.outcomes[0].outcome == "refused_private"
    assert opener.asked == []


def test_loopback_server_refused_without_allow_private(site: Site, tmp_path: Path) -> None:
    report = fetch(site, ["/ad.html"], tmp_path, allow_private=False)

    assert report.outcomes[0].outcome == "refused_private"
    assert site.requests == []


def test_address_connected_to_is_checked_again(site: Site, tmp_path: Path) -> None:
    """A name that resolved to a public address when checked but connects to a private one
    (DNS rebinding) is refused by the default opener before any request is sent."""
    report = fetch_listed(
        [site.url("/ad.html", "localhost")],
        tmp_path,
        min_interval_s=0.0,
        resolve=lambda host, port: ["93.184.216.34"],
    )

    assert report.outcomes[0].outcome == "refused_private"
    assert site.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://ftp.example.org/ads.html",
        "data:text/html,<p>hi</p>",
        "javascript:alert(1)",
        "gopher://example.org/",
        "ads.example.org/page",
        "http:///nohost",
        "http://example.org:notaport/",
    ],
)
def test_other_schemes_are_refused(url: str, tmp_path: Path) -> None:
    opener = FakeOpener({})
    report = fetch_listed([url], tmp_path, opener=opener, resolve=_echo, min_interval_s=0.0)

    assert report.outcomes[0].outcome == "refused_scheme"
    assert opener.asked == []


def test_public_address_classification() -> None:
    public = ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"]
    private = [
        "127.0.0.1",
        "10.1.1.1",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.1.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "0.0.0.0",
        "192.0.2.1",
        "2002:7f00:1::1",
    ]
    assert all(is_public_address(ipaddress.ip_address(text)) for text in public)
    assert not any(is_public_address(ipaddress.ip_address(text)) for text in private)


def test_url_list_skips_comments_blanks_and_repeats(tmp_path: Path) -> None:
    listed = tmp_path / "urls.txt"
    listed.write_text(
        "# ads seen on 1 Dec\n\nhttps://a.example/1\n  https://a.example/2  \n"
        "https://a.example/1\n",
        encoding="utf-8",
    )
    assert read_url_list(listed) == [
        "https://a.example/1",
        "https://a.example/2",
        "https://a.example/1",
    ]

    report = fetch_listed(
        read_url_list(listed),
        tmp_path / "out",
        opener=FakeOpener({}),
        resolve=lambda host, port: ["10.0.0.1"],
    )
    assert [item.url for item in report.outcomes] == ["https://a.example/1", "https://a.example/2"]


def test_command_fetches_the_listed_urls(site: Site, tmp_path: Path) -> None:
    listed = tmp_path / "urls.txt"
    listed.write_text(
        f"# collected by hand\n{site.url('/ad.html')}\n{site.url('/private/ad.html')}\n"
        f"{site.url('/image.png')}\n",
        encoding="utf-8",
    )
    folder = tmp_path / "pages"
    result = CliRunner().invoke(
        app,
        [
            "online",
            "fetch",
            str(listed),
            "--output",
            str(folder),
            "--interval",
            "0",
            "--allow-private",
        ],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert "1 saved" in result.output
    assert "1 disallowed_by_robots" in result.output
    assert "1 unsupported_type" in result.output
    assert f"tiphub online ingest {folder}/*.html" in result.output
    assert SECRET.decode() not in result.output
    assert folder.stat().st_mode & 0o777 == 0o700
    assert len(list(folder.glob("*.html"))) == 1


def test_command_refuses_loopback_without_the_hidden_option(site: Site, tmp_path: Path) -> None:
    listed = tmp_path / "urls.txt"
    listed.write_text(site.url("/ad.html") + "\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["online", "fetch", str(listed), "--output", str(tmp_path / "pages"), "--interval", "0"],
    )

    assert result.exit_code == 1
    assert "1 refused_private" in result.output
    assert site.requests == []


def test_command_rejects_an_empty_list(tmp_path: Path) -> None:
    listed = tmp_path / "urls.txt"
    listed.write_text("# nothing yet\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["online", "fetch", str(listed), "--output", str(tmp_path / "pages")]
    )

    assert result.exit_code == 2
    assert "no URL" in result.output


def test_same_bytes_under_two_urls_make_one_file(site: Site, tmp_path: Path) -> None:
    report = fetch(site, ["/ad.html", "/go-ad", "/ad.html"], tmp_path)

    assert [item.outcome for item in report.outcomes] == ["saved", "saved"]
    assert report.outcomes[0].file == report.outcomes[1].file
    assert len(report.saved_files) == 1
    assert len((tmp_path / LOG_NAME).read_text().splitlines()) == 2
    assert site.requests.count("/ad.html") == 2  # listed twice, fetched once, plus the redirect


def test_command_hides_the_testing_option() -> None:
    result = CliRunner().invoke(app, ["online", "fetch", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0
    assert "--interval" in result.output
    assert "--allow-private" not in result.output


def test_a_fetched_page_is_ingested_with_its_address_and_fetch_time(tmp_path: Path) -> None:
    from tiphub.online.ingest import read_inputs

    page = b"<html><head><title>Pickers</title></head><body><p>Farm work abroad</p></body></html>"
    saved = tmp_path / "0123456789abcdef.html"
    saved.write_bytes(page)
    edited = tmp_path / "fedcba9876543210.html"
    edited.write_bytes(page.replace(b"Farm", b"Field"))
    log = [
        {
            "url": "https://jobs.example.com/ad/7",
            "final_url": "https://jobs.example.com/ad/7?ref=1",
            "status": "saved",
            "file": saved.name,
            "sha256": hashlib.sha256(page).hexdigest(),
            "fetched_at": "2026-11-28T09:15:00+00:00",
        },
        {
            "url": "https://jobs.example.com/ad/8",
            "status": "saved",
            "file": edited.name,
            "sha256": hashlib.sha256(page).hexdigest(),
            "fetched_at": "2026-11-28T09:16:00+00:00",
        },
    ]
    (tmp_path / "fetched.jsonl").write_text(
        "".join(json.dumps(entry) + "\n" for entry in log), encoding="utf-8"
    )
    read = read_inputs([saved, edited])
    assert not read.errors
    fetched, changed = read.ads
    assert fetched.url is not None and fetched.url.startswith("https://jobs.example.com/ad/7")
    assert fetched.seen_at == dt.datetime(2026, 11, 28, 9, 15, tzinfo=dt.UTC)
    # A page whose bytes no longer match the log's digest does not borrow its address or time.
    assert changed.url is None and changed.seen_at is None
    assert changed.ad_id == edited.stem
