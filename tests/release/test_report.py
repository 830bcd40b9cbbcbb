"""report.html: sections, figures, no URLs, escaping."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tiphub.release.metrics import comparison_points, release_metrics, singling_out_attack
from tiphub.release.report import render_report

COLUMNS = ("gender", "ageBroad", "citizenship")
ROWS = (
    [{"gender": "Woman", "ageBroad": "18--20", "citizenship": "ROU"}] * 12
    + [{"gender": "Man", "ageBroad": "18--20", "citizenship": ""}] * 5
    + [{"gender": "Woman", "ageBroad": "", "citizenship": "MDA"}]
)
RELEASED = {
    "": 20,
    "gender=Woman": 15,  # real 13
    "ageBroad=18--20": 15,  # real 17
    "citizenship=ROU": 10,  # real 12
    "gender=Woman;ageBroad=18--20": 10,  # real 12
    "gender=Woman;citizenship=ROU": 10,  # real 12
    "gender=Woman;citizenship=MDA": 1,  # real 1: a one-person combination
    "gender=Trans/Transgender/NonConforming": 5,  # real 0: fabricated
}
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.ids.extend(value for name, value in attrs if name == "id" and value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render(title: str = "Release 2026-1", attack: bool = True) -> str:
    metrics = release_metrics(ROWS, RELEASED, columns=COLUMNS, k=11, max_length=2)
    result = (
        singling_out_attack(ROWS, RELEASED, columns=COLUMNS, k=11, max_length=2, targets=50)
        if attack
        else None
    )
    points = comparison_points(ROWS, RELEASED, columns=COLUMNS, k=11, max_length=2)
    return render_report(
        title=title,
        privacy={
            "method": "k-anonymous aggregates",
            "k": 11,
            "max_length": 2,
            "suppression": "combinations held by fewer than 11 people are not published",
            "date": "2026-11-30",
            "approved_by": "Data protection officer <dpo@example.org>",
            "rounding": {"base": 5},
        },
        metrics=metrics,
        attack=result,
        real_vs_released=points,
    )


def test_comparison_points_cover_reportable_and_released_combinations() -> None:
    points = comparison_points(ROWS, RELEASED, columns=COLUMNS, k=11, max_length=2)
    assert ("gender=Woman", 13, 15) in points
    assert ("gender=Woman;citizenship=MDA", 1, 1) in points
    assert ("gender=Trans/Transgender/NonConforming", 0, 5) in points
    # reportable but not released: ageBroad=18--20;citizenship=ROU (12 people)
    assert ("ageBroad=18--20;citizenship=ROU", 12, 0) in points
    # neither reportable nor released
    assert not any(text == "gender=Man" for text, _, _ in points)
    assert [text.count(";") for text, _, _ in points] == sorted(
        text.count(";") for text, _, _ in points
    )


def test_report_has_every_section_and_the_figures() -> None:
    page = _render()
    parser = _Parser()
    parser.feed(page)
    for section in ("method", "utility", "charts", "attack"):
        assert section in parser.ids
    assert parser.tags.count("svg") == 2
    text = " ".join(" ".join(parser.text).split())
    assert "Real vs released counts" in page
    assert "Error by combination length" in page
    assert "k = 11" in text
    assert "L = 2" in text
    assert "2026-11-30" in text
    assert "Data protection officer <dpo@example.org>" in text  # escaped in the source
    assert "combinations held by fewer than 11 people are not published" in text
    # Length 1: reportable {Woman 13, 18--20 17, ROU 12} ∪ released (+ Trans 0):
    # errors 2, 2, 2, 5 -> MAE 2.75; suppressed: Man, MDA of 5 -> 40.0%; fabricated 1/4.
    assert "2.75" in text
    assert "40.0%" in text
    assert "25.0%" in text
    # Length 2: reportable {Woman;18--20 12, Woman;ROU 12, 18--20;ROU 12} ∪ released
    # (+ Woman;MDA 1): errors 2, 2, 12, 0 -> 4.00.
    assert "4.00" in text
    assert "a total of 20 (off by 2)" in text
    # The attack fails on the one-person combination.
    assert "Fails: 1 released combination is held by fewer than 11 people" in text
    assert "100.00%" in text


def test_report_has_no_urls() -> None:
    page = _render()
    assert "http:" not in page
    assert "https:" not in page
    assert not re.search(r"""(src|href)=["'](?!#|data:)""", page)
    assert "<link" not in page
    assert "<script" not in page


def test_report_escapes_a_hostile_title() -> None:
    page = _render(title=HOSTILE)
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page
    assert "&lt;dpo@example.org&gt;" in page


def test_report_without_an_attack_or_an_approver() -> None:
    metrics = release_metrics(ROWS, RELEASED, columns=COLUMNS, k=11, max_length=1)
    page = render_report(
        title="DP",
        privacy={"method": "differential privacy", "epsilon": 4, "delta": 1e-6},
        metrics=metrics,
        attack=None,
        real_vs_released=[],
    )
    assert "ε = 4 and δ = 1e-06" in page
    assert "No singling-out attack was run" in page
    assert "Nobody has approved this release yet" in page
    assert "Suppression: not stated" in page


def test_a_passing_attack_reads_as_passing() -> None:
    released = {key: count for key, count in RELEASED.items() if "MDA" not in key}
    metrics = release_metrics(ROWS, released, columns=COLUMNS, k=11, max_length=2)
    attack = singling_out_attack(ROWS, released, columns=COLUMNS, k=11, max_length=2)
    page = render_report(
        title="ok", privacy={"k": 11}, metrics=metrics, attack=attack, real_vs_released=[]
    )
    assert "Passes: nobody can be singled out with a chance above 1 in 11" in page


def test_a_large_scatter_is_embedded_as_a_bitmap_without_urls() -> None:
    metrics = release_metrics(ROWS, RELEASED, columns=COLUMNS, k=11, max_length=2)
    points = [(f"gender=Woman;citizenship=C{i}", i, i + (i % 7) - 3) for i in range(2_500)]
    page = render_report(
        title="big", privacy={}, metrics=metrics, attack=None, real_vs_released=points
    )
    assert 'href="data:image/png;base64,' in page
    assert "http" not in page
    assert "2,500 combinations" in page
