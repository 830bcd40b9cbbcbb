"""Reading collected ads: CSV, JSON Lines, saved pages and feeds, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import charset_normalizer
import pytest

from tiphub.online import ingest
from tiphub.online.ads import Problem
from tiphub.online.ingest import MAX_TEXT_CHARS, html_to_text, parse_time, read_inputs

# A value that must never appear in a message.
SECRET = "+44 7700 900123"


def write(path: Path, content: str | bytes, encoding: str = "utf-8") -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode(encoding))
    return path


def messages(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


def assert_no_value(problems: list[Problem], *values: str) -> None:
    for text in messages(problems):
        for value in values:
            assert value not in text


# -- CSV ----------------------------------------------------------------------------------


def test_csv_comma_reads_every_field(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ads.csv",
        "AD_ID,Title,Text,Location,Salary,Contact,URL,Seen_At\r\n"
        "a1,Cook,Kitchen work abroad,Lisbon,2500 EUR,call "
        f"{SECRET},https://jobs.example.com/a1,2026-11-30T10:00:00Z\r\n",
    )
    result = read_inputs([path])
    assert result.errors == [] and result.warnings == []
    [ad] = result.ads
    assert (ad.ad_id, ad.title, ad.text, ad.location, ad.salary) == (
        "a1",
        "Cook",
        "Kitchen work abroad",
        "Lisbon",
        "2500 EUR",
    )
    assert ad.contact == f"call {SECRET}"
    assert ad.url == "https://jobs.example.com/a1"
    assert ad.seen_at == dt.datetime(2026, 11, 30, 10, tzinfo=dt.UTC)
    assert (ad.row, ad.kind, ad.source) == (2, "csv", str(path))
    assert ad.original.startswith(b"a1,Cook") and ad.original.endswith(b"\r\n")
    assert ad.media_type == "text/csv; charset=utf-8"
    assert result.formats == [f"{path}: CSV, UTF-8, comma-separated"]


def test_csv_semicolon_dialect_is_detected_and_named(tmp_path: Path) -> None:
    path = write(tmp_path / "ads.csv", "ad_id;text;salary\nx1;Farm work, housing paid;1.500,00\n")
    result = read_inputs([path])
    assert [ad.salary for ad in result.ads] == ["1.500,00"]
    assert result.ads[0].text == "Farm work, housing paid"
    assert "semicolon-separated" in result.formats[0]


def test_csv_tab_dialect_is_detected_and_named(tmp_path: Path) -> None:
    path = write(tmp_path / "ads.tsv", "ad_id\ttext\tlocation\nt1\tHotel; cleaning\tPorto\n")
    result = read_inputs([path])
    assert [(ad.text, ad.location) for ad in result.ads] == [("Hotel; cleaning", "Porto")]
    assert "tab-separated" in result.formats[0]


def test_csv_original_is_the_exact_bytes_of_a_multi_line_record(tmp_path: Path) -> None:
    record = b'm2,"Line one\r\nline two, with ""quotes""\r\n\r\nline four",Porto\r\n'
    data = b"ad_id,text,location\r\nm1,first,Faro\r\n" + record + b"m3,last,Braga\r\n"
    path = write(tmp_path / "multi.csv", data)
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["m1", "m2", "m3"]
    assert result.ads[1].original == record
    assert result.ads[1].text == 'Line one\r\nline two, with "quotes"\r\n\r\nline four'
    # Rows count as a spreadsheet does: one row per record, however many lines it spans.
    assert [ad.row for ad in result.ads] == [2, 3, 4]
    assert result.ads[2].original == b"m3,last,Braga\r\n"


def test_csv_with_old_mac_line_ends(tmp_path: Path) -> None:
    path = write(tmp_path / "mac.csv", b"ad_id,text\rc1,one\rc2,two\r")
    result = read_inputs([path])
    assert [(ad.ad_id, ad.original) for ad in result.ads] == [
        ("c1", b"c1,one\r"),
        ("c2", b"c2,two\r"),
    ]


def test_unclosed_quote_is_an_error_not_a_silent_merge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_RECORD_BYTES", 200)
    rows = "".join(f"q{n},ad number {n}\n" for n in range(30))
    path = write(tmp_path / "quote.csv", 'ad_id,text\nq,"unclosed\n' + rows)
    result = read_inputs([path])
    assert result.errors and result.errors[0].row == 2
    assert "unclosed quote" in result.errors[0].message


def test_csv_header_bom_and_case_do_not_matter(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.csv", b"\xef\xbb\xbfAd_Id,TEXT\nb1,Welder needed\n")
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["b1"]
    assert "UTF-8 (BOM)" in result.formats[0]
    assert result.ads[0].original == b"b1,Welder needed\n"


def test_csv_utf16_with_bom(tmp_path: Path) -> None:
    content = 'ad_id,text\nu1,"Trabalho na Suíça, alojamento pago"\n'
    path = write(tmp_path / "wide.csv", b"\xff\xfe" + content.encode("utf-16-le"))
    result = read_inputs([path])
    assert result.ads[0].text == "Trabalho na Suíça, alojamento pago"
    expected = 'u1,"Trabalho na Suíça, alojamento pago"\n'.encode("utf-16-le")
    assert result.ads[0].original == expected
    assert "UTF-16 (BOM)" in result.formats[0]


def test_csv_legacy_encoding_is_detected(tmp_path: Path) -> None:
    content = (
        "ad_id,text\n"
        'l1,"Trabalho no estrangeiro: alojamento e viagem pagos, salário elevado, não é '
        'necessária experiência. Começa já, sem contrato, pagamento à semana."\n'
    )
    path = write(tmp_path / "latin.csv", content.encode("cp1252"))
    result = read_inputs([path])
    assert result.errors == []
    assert "salário" in result.ads[0].text
    assert "(detected)" in result.formats[0]


def test_unknown_columns_give_one_warning_naming_them(tmp_path: Path) -> None:
    path = write(tmp_path / "extra.csv", "ad_id,text,views,colour\na,one,1,red\nb,two,2,blue\n")
    result = read_inputs([path])
    assert len(result.ads) == 2
    [warning] = result.warnings
    assert "'views'" in warning.message and "'colour'" in warning.message
    assert warning.source == str(path)


def test_a_headerless_file_does_not_leak_its_first_row_into_messages(tmp_path: Path) -> None:
    path = write(tmp_path / "noheader.csv", f"ad_id,text,{SECRET}\na,b,c\n")
    result = read_inputs([path])
    assert_no_value(result.warnings, SECRET)
    assert "column 3" in result.warnings[0].message


def test_missing_required_column_is_one_error_for_the_file(tmp_path: Path) -> None:
    rows = "".join(f"id{n},some text {n}\n" for n in range(20))
    path = write(tmp_path / "missing.csv", "ad_id,body\n" + rows)
    result = read_inputs([path])
    assert result.ads == []
    [error] = result.errors
    assert "'text'" in error.message and error.source == str(path)


def test_empty_ad_text_is_a_warning_and_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.csv", "ad_id,text,contact\ne1,  ,call " + SECRET + "\ne2,ok,\n")
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["e2"]
    [warning] = result.warnings
    assert (warning.source, warning.row, warning.field) == (str(path), 2, "text")
    assert_no_value(result.warnings, SECRET)


def test_empty_ad_id_is_an_error_naming_row_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "noid.csv", f"ad_id,text\n,call {SECRET}\n")
    result = read_inputs([path])
    [error] = result.errors
    assert (error.row, error.field) == (2, "ad_id")
    assert_no_value(result.errors, SECRET)


def test_ragged_row_is_an_error_for_that_row(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", f"ad_id,text\nr1,fine\nr2,{SECRET},extra\n")
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["r1"]
    [error] = result.errors
    assert error.row == 3 and str(path) in str(error)
    assert_no_value(result.errors, SECRET)


def test_bad_seen_at_is_a_warning_and_left_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "when.csv", "ad_id,text,seen_at\nw1,job,next tuesday\n")
    result = read_inputs([path])
    assert result.ads[0].seen_at is None
    [warning] = result.warnings
    assert (warning.row, warning.field) == (2, "seen_at")
    assert "next tuesday" not in str(warning)


def test_parse_time_reads_iso_and_rfc_2822() -> None:
    assert parse_time("2026-11-30") == dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    assert parse_time("Mon, 30 Nov 2026 10:00:00 +0100") == dt.datetime(
        2026, 11, 30, 9, tzinfo=dt.UTC
    )
    assert parse_time("yesterday") is None


def test_huge_text_is_an_error_for_that_row(tmp_path: Path) -> None:
    long_text = "word " * (MAX_TEXT_CHARS // 5 + 10)
    path = write(tmp_path / "huge.csv", f"ad_id,text\nh1,{long_text}\nh2,short\n")
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["h2"]
    [error] = result.errors
    assert (error.row, error.field) == (2, "text")
    assert "word word" not in str(error)


def test_huge_record_is_an_error_for_that_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "MAX_RECORD_BYTES", 1000)
    path = write(tmp_path / "big.csv", "ad_id,text,url\nb1,short," + "x" * 2000 + "\nb2,ok,\n")
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["b2"]
    assert [error.row for error in result.errors] == [2]


def test_formulas_and_scripts_stay_inert(tmp_path: Path) -> None:
    formula = '=HYPERLINK("http://evil.test/x","click")'
    path = write(
        tmp_path / "hostile.csv",
        "ad_id,title,text\n"
        f'f1,"{formula.replace(chr(34), chr(34) * 2)}","<p>Good pay</p><script>alert(1)</script>"\n',
    )
    result = read_inputs([path])
    [ad] = result.ads
    assert ad.title == formula  # kept as data, exactly
    assert ad.text == "Good pay"
    assert "alert" not in ad.text and b"<script>" in ad.original


# -- JSON Lines ---------------------------------------------------------------------------


def test_jsonl_reads_lines_and_keeps_each_line_as_original(tmp_path: Path) -> None:
    first = json.dumps({"ad_id": 7, "Text": "Driver wanted", "seen_at": "2026-11-29T08:00:00"})
    second = json.dumps({"ad_id": "j2", "text": "Nanny", "contact": ["a", "b"]})
    path = write(tmp_path / "ads.jsonl", f"{first}\n\n{second}\n")
    result = read_inputs([path])
    assert result.errors == []
    assert [(ad.ad_id, ad.row) for ad in result.ads] == [("7", 1), ("j2", 3)]
    assert result.ads[0].original == (first + "\n").encode()
    assert result.ads[0].seen_at == dt.datetime(2026, 11, 29, 8, tzinfo=dt.UTC)
    assert result.ads[1].contact == "a\nb"
    assert result.ads[0].media_type == "application/jsonl"
    assert result.formats == [f"{path}: JSON Lines, UTF-8"]


def test_invalid_json_line_is_an_error_naming_the_line(tmp_path: Path) -> None:
    good = json.dumps({"ad_id": "g", "text": "fine"})
    path = write(tmp_path / "bad.ndjson", f'{good}\n{{"ad_id": "x", "text": "{SECRET}\n')
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["g"]
    [error] = result.errors
    assert error.row == 2 and "line 2" in error.message and str(path) in str(error)
    assert_no_value(result.errors, SECRET)


def test_jsonl_missing_required_field_is_one_error(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"ad_id": n, "body": "x"}) + "\n" for n in range(5))
    path = write(tmp_path / "nobody.jsonl", lines)
    result = read_inputs([path])
    assert len(result.errors) == 1 and "'text'" in result.errors[0].message


def test_jsonl_unknown_fields_one_warning(tmp_path: Path) -> None:
    lines = "".join(json.dumps({"ad_id": n, "text": "x", "likes": n}) + "\n" for n in range(3))
    result = read_inputs([write(tmp_path / "likes.jsonl", lines)])
    assert len(result.warnings) == 1 and "'likes'" in result.warnings[0].message


def test_jsonl_non_text_field_is_an_error(tmp_path: Path) -> None:
    line = json.dumps({"ad_id": "n", "text": {"nested": SECRET}})
    result = read_inputs([write(tmp_path / "nested.jsonl", line + "\n")])
    [error] = result.errors
    assert (error.row, error.field) == (1, "text")
    assert_no_value(result.errors, SECRET)


# -- HTML ---------------------------------------------------------------------------------

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<title>Waiters &amp; cooks abroad</title>
<meta property="og:title" content="Other title">
<style>body { color: red }</style>
<script>var tracking = "secret-script";</script>
</head><body><h1>Work in a hotel</h1><p>Free flights,&nbsp;housing paid.</p>
<noscript>Enable JavaScript</noscript><template><p>hidden template</p></template>
<div>Call now<br>no experience needed</div></body></html>"""


def test_html_page_title_text_and_id_from_file_name(tmp_path: Path) -> None:
    path = write(tmp_path / "saved-ad-17.html", PAGE)
    result = read_inputs([path])
    [ad] = result.ads
    assert ad.ad_id == "saved-ad-17" and ad.url is None
    assert ad.title == "Waiters & cooks abroad"
    assert (
        ad.text
        == "Work in a hotel\n\nFree flights, housing paid.\n\nCall now\nno experience needed"
    )
    for hidden in ("secret-script", "color", "Enable JavaScript", "hidden template"):
        assert hidden not in ad.text
    assert ad.original == PAGE.encode() and ad.row is None and ad.kind == "html"
    assert ad.media_type == "text/html; charset=utf-8"
    assert "HTML page" in result.formats[0]


def test_html_canonical_url_becomes_the_ad_id(tmp_path: Path) -> None:
    page = (
        '<html><head><meta property="og:title" content="Farm jobs">'
        '<meta property="og:url" content="https://ads.example.com/og">'
        '<link rel="canonical" href="https://ads.example.com/ad/42"></head>'
        "<body>Picking fruit</body></html>"
    )
    first = write(tmp_path / "one.htm", page)
    second = write(tmp_path / "copy.html", page)
    result = read_inputs([first, second])
    [ad] = result.ads
    assert ad.ad_id == ad.url == "https://ads.example.com/ad/42"
    assert ad.title == "Farm jobs"
    # The same page saved twice is one ad: the second is a duplicate warning.
    [warning] = result.warnings
    assert warning.source == str(second) and str(first) in warning.message


def test_html_og_url_and_javascript_urls(tmp_path: Path) -> None:
    page = (
        '<head><meta property="og:url" content="https://ads.example.com/og"></head>'
        '<link rel="canonical" href="javascript:alert(1)"><p>text</p>'
    )
    [ad] = read_inputs([write(tmp_path / "og.html", page)]).ads
    assert ad.url == "https://ads.example.com/og"


def test_malformed_html_is_read_best_effort(tmp_path: Path) -> None:
    page = "<html><body><div><p>Unclosed <b>bold <i>work abroad</div></span></html"
    result = read_inputs([write(tmp_path / "broken.html", page)])
    assert "work abroad" in result.ads[0].text


def test_unreadable_html_is_a_warning(tmp_path: Path) -> None:
    page = "<html><script>only a script</script><style>x{}</style></html>"
    result = read_inputs([write(tmp_path / "nothing.html", page)])
    assert result.ads == []
    [warning] = result.warnings
    assert "nothing readable" in warning.message and str(tmp_path / "nothing.html") in str(warning)


def test_unclosed_script_never_reaches_the_text(tmp_path: Path) -> None:
    text = html_to_text("<p>Visible</p><script>document.write('x')")
    assert text.text == "Visible"


def test_huge_page_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_RECORD_BYTES", 100)
    path = write(tmp_path / "huge.html", "<p>" + "x" * 200 + "</p>")
    result = read_inputs([path])
    assert result.ads == [] and str(path) in str(result.errors[0])
    assert "MB" in result.errors[0].message


# -- feeds --------------------------------------------------------------------------------

RSS_ITEM_1 = (
    b"<item>\n      <title>Cleaner in Germany</title>\n"
    b"      <link>https://ads.example.com/r1</link>\n"
    b'      <guid isPermaLink="false">rss-1</guid>\n'
    b"      <description>&lt;p&gt;Good pay&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;"
    b"</description>\n      <pubDate>Mon, 30 Nov 2026 09:00:00 GMT</pubDate>\n    </item>"
)
RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Jobs</title>\n'
    b"    " + RSS_ITEM_1 + b"\n"
    b"    <item><title>Empty</title><guid>rss-2</guid></item>\n"
    b"    <item><guid>rss-3</guid><description>Driver, visa paid</description></item>\n"
    b"</channel></rss>\n"
)


def test_rss_items_are_ads_with_their_exact_bytes(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.rss", RSS)
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["rss-1", "rss-3"]
    first = result.ads[0]
    assert first.title == "Cleaner in Germany"
    assert first.text == "Good pay"
    assert first.url == "https://ads.example.com/r1"
    assert first.seen_at == dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    assert first.original == RSS_ITEM_1
    assert (first.row, first.kind) == (1, "rss")
    assert first.media_type.startswith("application/rss+xml")
    assert result.ads[1].row == 3
    [warning] = result.warnings  # the item without text
    assert (warning.row, warning.field) == (2, "text")
    assert result.formats == [f"{path}: RSS feed, UTF-8"]


ATOM_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Recruiter</title>
  <entry><id>urn:uuid:0001</id><title type="html">Nurses &lt;b&gt;wanted&lt;/b&gt;</title>
    <link rel="alternate" href="https://ads.example.com/a1"/>
    <updated>2026-11-28T12:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Work in Italy</p></div></content>
  </entry>
  <entry><id>urn:uuid:0002</id><summary>Au pair, fees apply</summary>
    <published>2026-11-27T12:00:00+02:00</published></entry>
</feed>
"""


def test_atom_entries(tmp_path: Path) -> None:
    path = write(tmp_path / "recruiter.xml", ATOM_FEED)
    result = read_inputs([path])
    assert result.errors == []
    first, second = result.ads
    assert (first.ad_id, first.title, first.text, first.url) == (
        "urn:uuid:0001",
        "Nurses wanted",
        "Work in Italy",
        "https://ads.example.com/a1",
    )
    assert first.seen_at == dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
    assert second.text == "Au pair, fees apply"
    assert second.seen_at == dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    assert first.original.startswith(b"<entry><id>urn:uuid:0001")
    assert first.original.endswith(b"</entry>") and first.kind == "atom"
    assert "Atom feed" in result.formats[0]


def test_feed_is_sniffed_without_a_known_extension(tmp_path: Path) -> None:
    result = read_inputs([write(tmp_path / "feed.download", RSS)])
    assert [ad.ad_id for ad in result.ads] == ["rss-1", "rss-3"]


def test_feed_with_entities_is_refused(tmp_path: Path) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;">]><rss><channel><item><description>&b;</description>'
        b"</item></channel></rss>"
    )
    result = read_inputs([write(tmp_path / "bomb.xml", bomb)])
    assert result.ads == [] and "entities" in result.errors[0].message


def test_malformed_feed_is_an_error_with_position(tmp_path: Path) -> None:
    result = read_inputs([write(tmp_path / "broken.rss", b"<rss><channel><item></channel>")])
    [error] = result.errors
    assert "line 1" in error.message and error.source == str(tmp_path / "broken.rss")


def test_xml_that_is_not_a_feed(tmp_path: Path) -> None:
    result = read_inputs([write(tmp_path / "other.xml", b"<catalogue><book/></catalogue>")])
    assert "not an RSS or Atom feed" in result.errors[0].message


# -- files and duplicates -----------------------------------------------------------------


def test_duplicate_with_same_content_is_a_warning_and_kept_once(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", "ad_id,text\nd1,Same ad\nd2,Other\nd1,Same ad\n")
    result = read_inputs([path])
    assert [ad.ad_id for ad in result.ads] == ["d1", "d2"]
    [warning] = result.warnings
    assert warning.row == 4 and "duplicate of row 2" in warning.message
    assert result.errors == []


def test_duplicate_with_other_content_is_an_error_naming_both_places(tmp_path: Path) -> None:
    first = write(tmp_path / "one.csv", "ad_id,text\nd1,Original text\n")
    second = write(tmp_path / "two.jsonl", json.dumps({"ad_id": "d1", "text": SECRET}) + "\n")
    result = read_inputs([first, second])
    [error] = result.errors
    assert error.source == str(second) and error.row == 1
    assert f"{first} row 2" in error.message
    assert_no_value(result.errors, SECRET, "Original text")


def test_files_are_read_in_the_given_order(tmp_path: Path) -> None:
    second = write(tmp_path / "b.csv", "ad_id,text\nb1,x\nb2,y\n")
    first = write(tmp_path / "a.jsonl", json.dumps({"ad_id": "a1", "text": "z"}) + "\n")
    assert [ad.ad_id for ad in read_inputs([second, first]).ads] == ["b1", "b2", "a1"]


def test_binary_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "image.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    result = read_inputs([path])
    [error] = result.errors
    assert error.source == str(path) and "binary" in error.message


def test_undeterminable_encoding_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Nothing:
        def best(self) -> None:
            return None

    monkeypatch.setattr(charset_normalizer, "from_bytes", lambda data: Nothing())
    path = write(tmp_path / "odd.csv", b"ad_id,text\n1,\xff\xfe\xfa\n")
    [error] = read_inputs([path]).errors
    assert error.source == str(path) and "encoding" in error.message


def test_unsupported_extension_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "ads.docx", b"PK\x03\x04 not a text file")
    [error] = read_inputs([path]).errors
    assert error.source == str(path) and "unsupported file type '.docx'" in error.message


def test_missing_folder_and_pipe_are_errors(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.csv"
    os.mkfifo(pipe)
    result = read_inputs([tmp_path / "absent.csv", tmp_path, pipe])
    assert [error.source for error in result.errors] == [
        str(tmp_path / "absent.csv"),
        str(tmp_path),
        str(pipe),
    ]
    assert "not found" in result.errors[0].message
    assert "folder" in result.errors[1].message
    assert "not a regular file" in result.errors[2].message


def test_empty_file_is_a_warning(tmp_path: Path) -> None:
    result = read_inputs([write(tmp_path / "empty.csv", b"")])
    assert result.ads == [] and result.errors == [] and len(result.warnings) == 1
