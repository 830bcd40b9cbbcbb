"""The plain-language estimate report (tiphub.estimate.explain), in English and French.

Figures are checked against the R reference rows in ``data/mse/reference-results.csv``
(SparseMSE's main-effects and stepwise estimates, Rcapture's deviance and degrees of freedom
for model Mt) and the dependence sentences against an independent Poisson fit written here.
"""

from __future__ import annotations

import csv
import math
import re
import string
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.estimate.api import estimate
from tiphub.estimate.explain import estimate_report_html, goodness_of_fit
from tiphub.estimate.explain_texts import LANGUAGES, TEXTS
from tiphub.estimate.report import write_estimate_report
from tiphub.estimate.results import MSEResult
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
CHROMIUM = Path("/usr/bin/chromium")
NNBSP = "\u202f"
SECTION_KEYS = (
    "warnings_title",
    "figure_title",
    "dark_title",
    "counted_title",
    "assumptions_title",
    "closed_title",
    "linkage_title",
    "dependence_title",
    "heterogeneity_title",
    "overlap_title",
    "methods_title",
    "appendix_title",
)
ASSUMPTION_KEYS = ("closed_title", "linkage_title", "dependence_title", "heterogeneity_title")
# The namespaces an inline SVG declares; they are names, never fetched.
SVG_NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def reference(dataset: str, package: str, method: str) -> dict[str, str]:
    with (DATA / "reference-results.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (row["dataset"], row["pkg"], row["method"]) == (dataset, package, method):
                return row
    raise LookupError((dataset, package, method))


@pytest.fixture(scope="module")
def uk() -> CaptureTable:
    return read_capture_table(DATA / "UKdat.csv")


@pytest.fixture(scope="module")
def uk_main(uk: CaptureTable) -> MSEResult:
    return estimate(uk, "main")


@pytest.fixture(scope="module")
def uk_stepwise(uk: CaptureTable) -> MSEResult:
    return estimate(uk, "stepwise")


def section_headings(page: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", text) for text in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", page)]


def unescape(text: str) -> str:
    import html

    return html.unescape(text)


# ---------------------------------------------------------------------- catalogue


def test_every_text_exists_in_every_language_with_the_same_placeholders() -> None:
    formatter = string.Formatter()
    for key, texts in TEXTS.items():
        assert set(texts) == set(LANGUAGES), key
        fields = {
            language: {name for _, name, _, _ in formatter.parse(text) if name}
            for language, text in texts.items()
        }
        assert fields["fr"] == fields["en"], key
        assert "NBSP" not in texts["fr"], key
    for key in SECTION_KEYS:
        assert TEXTS[key]["fr"] != TEXTS[key]["en"], key


# ---------------------------------------------------------------------- English report


def test_report_gives_the_figure_and_interval_of_the_reference(
    uk: CaptureTable, uk_main: MSEResult
) -> None:
    row = reference("UKdat", "SparseMSE", "main effects")
    assert uk_main.population == pytest.approx(float(row["est"]), abs=0.5)
    assert uk_main.interval_95[0] == pytest.approx(float(row["lo95"]), abs=0.1)
    page = estimate_report_html(uk_main, uk)
    headline = unescape(re.search(r'<p class="headline">(.*?)</p>', page, re.S).group(1))
    assert "12,214 people" in headline
    assert "95% interval: 10,989 to 13,621" in headline
    assert "2,744 of them" in headline and "about 9,470 are recorded on none" in headline
    # The interval is explained, and the quoted form is rounded evenly.
    assert "95 times in 100" in page
    assert "“about 12,200, between 11,000 and 13,600”" in unescape(page)


def test_each_assumption_is_stated_with_whether_it_was_checked(
    uk: CaptureTable, uk_main: MSEResult
) -> None:
    page = unescape(estimate_report_html(uk_main, uk))
    headings = section_headings(page)
    for key in ASSUMPTION_KEYS:
        assert TEXTS[key]["en"] in headings, key
    sections = re.findall(r'<section class="assumption">(.*?)</section>', page, re.S)
    assert len(sections) == 4
    assert all('<span class="status' in section for section in sections)
    # Without a sidecar nothing says who or when: both are flagged.
    assert "The table does not say whom it counts" in page
    assert "no period is stated" in page
    assert "Not checked." in sections[1] and "no figures on the quality of the linkage" in page


def test_goodness_of_fit_matches_rcapture(uk_main: MSEResult) -> None:
    # Rcapture closedp.t model Mt is the main-effects model: dev=179.4 df=56.
    note = reference("UKdat", "Rcapture", "closedp.t Mt")["note"]
    deviance = float(re.search(r"dev=([\d.]+)", note).group(1))
    df = int(re.search(r"df=(\d+)", note).group(1))
    fit = goodness_of_fit(uk_main)
    assert fit is not None
    assert fit[0] == pytest.approx(deviance, abs=0.05) and fit[1] == df
    from scipy.stats import chi2

    assert fit[2] == pytest.approx(chi2.sf(deviance, df), rel=0.05) and fit[2] < 1e-10


def test_main_effects_report_says_the_lists_are_assumed_independent_and_fit_poorly(
    uk: CaptureTable, uk_main: MSEResult
) -> None:
    page = unescape(estimate_report_html(uk_main, uk))
    dependence = re.findall(r'<section class="assumption">(.*?)</section>', page, re.S)[2]
    assert "assumes the lists are independent" in dependence
    assert "does not reproduce the observed overlaps well" in dependence
    assert "deviance 179.4 on 56 degrees of freedom, p = < 0.001" in dependence
    assert "Not checked." in dependence
    # Without interactions nothing absorbs differences in catchability.
    heterogeneity = re.findall(r'<section class="assumption">(.*?)</section>', page, re.S)[3]
    assert "treats everyone as equally easy to find" in heterogeneity
    assert "Not checked." in heterogeneity


def independent_poisson_fit(table: CaptureTable, terms: list[str]) -> dict[str, float]:
    """Maximum-likelihood log-linear coefficients by plain IRLS (not the engine's code)."""
    cells = np.arange(1, 1 << table.n_lists)
    masks = [0, *(1 << i for i in range(table.n_lists)), *(table.term_mask(t) for t in terms)]
    design = np.array([[float(cell & mask == mask) for mask in masks] for cell in cells])
    y = table.counts[cells].astype(float)
    beta = np.zeros(len(masks))
    beta[0] = math.log(y.mean())
    for _ in range(100):
        mu = np.exp(design @ beta)
        step = np.linalg.solve(design.T @ (design * mu[:, None]), design.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    return dict(zip(terms, beta[1 + table.n_lists :], strict=True))


def test_dependences_are_put_in_words_with_the_right_direction(
    uk: CaptureTable, uk_stepwise: MSEResult
) -> None:
    row = reference("UKdat", "SparseMSE", "stepwise p=0.02")
    assert "+".join(uk_stepwise.model) == row["model"]
    coefficients = independent_poisson_fit(uk, list(uk_stepwise.model))
    page = unescape(estimate_report_html(uk_stepwise, uk))
    for term, coefficient in coefficients.items():
        first, second = term.split(":")
        direction = "more" if coefficient > 0 else "less"
        sentence = (
            f"People on <strong>{first}</strong> are {direction} likely than others to be on "
            f"<strong>{second}</strong> too (odds ratio about {math.exp(coefficient):.1f})."
        )
        assert sentence in page, term
    # Both directions occur on this table (PF:NCA positive, NG:GP negative).
    assert coefficients["PF:NCA"] > 0 > coefficients["NG:GP"]
    assert "chosen from the data, adding one pair of lists at a time" in page
    assert "(p < 0.02)" in page
    heterogeneity = re.findall(r'<section class="assumption">(.*?)</section>', page, re.S)[3]
    assert (
        "Partly checked." in heterogeneity and "absorb part of these differences" in heterogeneity
    )


def test_coefficients_only_in_the_appendix(uk: CaptureTable, uk_stepwise: MSEResult) -> None:
    page = estimate_report_html(uk_stepwise, uk)
    appendix = page.index('<section class="appendix"')
    assert page.count('<section class="appendix"') == 1
    body, tail = page[:appendix], page[appendix:]
    assert "Technical appendix" in tail and "std. error" in tail
    intercept = next(row for row in uk_stepwise.fit.coefficient_table() if row[0] == "(Intercept)")
    assert f"{intercept[1]:.4f}" in tail and f"{intercept[2]:.4f}" in tail
    for name, coefficient, _ in uk_stepwise.fit.coefficient_table():
        assert f">{coefficient:.4f}<" not in body, name
    assert "std. error" not in body and "<table" not in body
    assert "Deviance" in tail and "AIC" in tail


def test_a_warning_is_shown_first_with_its_advice(uk: CaptureTable, uk_main: MSEResult) -> None:
    result = estimate(uk, "main")
    result.warn(
        "methods_disagree",
        "main (12,214) and bic (25,311) disagree <badly>.",
        "Run tiphub estimate robustness on this table before quoting either figure.",
    )
    page = estimate_report_html(result, uk)
    box = page.index('<section class="checks"')
    assert box < page.index('<p class="headline">')
    assert box < page.index("<h2>The figure and its interval</h2>")
    assert "disagree &lt;badly&gt;." in page and "<badly>" not in page
    advice = page.index("Run tiphub estimate robustness on this table")
    assert box < advice < page.index('<p class="headline">')
    assert "What to do:" in page[box:advice]
    # Without findings there is no box.
    assert '<section class="checks"' not in estimate_report_html(uk_main, uk)


def assumption(page: str, number: int) -> str:
    """The text of assumption ``number`` (1–4) of a report."""
    return re.findall(r'<section class="assumption">(.*?)</section>', page, re.S)[number - 1]


def test_who_is_counted_and_linkage_from_the_sidecar(uk: CaptureTable) -> None:
    # The keys tiphub.estimate.sidecar and tiphub.estimate.linkage_error write.
    result = estimate(uk, "main")
    result.population_described = {
        "source": "database",
        "roles": ["Victim", "PresumedVictim"],
        "organisations": ["<i>NGO</i> A", "Police"],
        "period": {"earliest": "2013-01-04", "latest": "2013-12-30"},
        "records": 3_120,
        "clusters": 2_744,
        "lists_changed": {"merged": ["PF+NCA"], "omitted": []},
    }
    result.linkage = {
        "estimated_precision": 0.97,
        "estimated_recall": 0.915,
        "propagated": True,
        "uncertain_links": 41,
        "interval_95_without_linkage_error": [10_988.8, 13_621.3],
        "share_of_width_from_linkage": 0.184,
    }
    raw = estimate_report_html(result, uk)
    assert "&lt;i&gt;NGO&lt;/i&gt; A, Police" in raw and "<i>" not in raw
    page = unescape(raw)
    assert "<dt>Roles</dt><dd>victims, presumed victims</dd>" in page
    assert "<dd>the tiphub database</dd>" in page and "<dd>3,120</dd>" in page
    assert "<dd>merged: PF+NCA</dd>" in page
    assert "Stated period: 2013-01-04 – 2013-12-30." in page
    assert "The table does not say whom it counts" not in page
    linkage = assumption(page, 2)
    assert "precision is 97% (the share of its matches that are right)" in linkage
    assert "recall 92%" in linkage and "accounts for 18% of its width" in linkage
    assert "Without the linkage error, the 95% interval would be 10,989 to 13,621." in linkage
    assert "Checked." in linkage
    french = unescape(estimate_report_html(result, uk, lang="fr"))
    assert "<dd>victimes, victimes présumées</dd>" in french
    assert "fusionnées\u00a0: PF+NCA" in french

    # Uncertain links the interval does not carry: only partly checked.
    result.linkage = {"estimated_precision": 0.9, "estimated_recall": 0.8, "uncertain_links": 7}
    linkage = assumption(unescape(estimate_report_html(result, uk)), 2)
    assert "Partly checked." in linkage
    assert "7 uncertain links are not carried into the interval" in linkage
    result.linkage = {"propagated": False, "uncertain_links": 0, "reason": "every link was certain"}
    linkage = assumption(unescape(estimate_report_html(result, uk)), 2)
    assert "Checked." in linkage and "Every link was certain" in linkage


def test_methods_side_by_side(uk: CaptureTable, uk_stepwise: MSEResult) -> None:
    result = estimate(uk, "stepwise")
    result.alternatives = {}
    alone = estimate_report_html(result, uk)
    assert alone.count("<svg") == 1 and "Only this method was run" in alone
    main = estimate(uk, "main")
    result.alternatives = {
        "main": {"population": main.population, "interval_95": list(main.interval_95)},
        "lcmcr": {"population": 22_777.0, "interval_95": [17_069.6, 33_912.6]},
        "bic": {"population": None, "interval_95": None, "error": "too many lists"},
        "dga": {"population": None, "interval_95": None, "skipped": "slow on 6 lists"},
    }
    page = estimate_report_html(result, uk)
    assert page.count("<svg") == 2
    methods = page[page.index("<h2>Other methods on the same table</h2>") :]
    assert "stepwise (this report)" in methods and "12,214  (10,989–13,621)" in methods
    assert "22,777  (17,070–33,913)" in methods
    assert "no estimate: too many lists" in methods and "not run: slow on 6 lists" in methods
    # LCMCR beside a log-linear model is reported under heterogeneity.
    assert "LCMCR, run beside this method, gives 22,777 (95% interval: 17,070 to 33,913)" in page


# ---------------------------------------------------------------------- French


def test_french_report(uk: CaptureTable, uk_main: MSEResult) -> None:
    result = estimate(uk, "main")
    result.warn("small_sample", "Few people are on several lists.", "Collect more overlap.")
    page = estimate_report_html(result, uk, lang="fr")
    assert '<html lang="fr">' in page
    assert f"12{NNBSP}214" in page and f"de 10{NNBSP}989 à 13{NNBSP}621" in page
    assert "12,214" not in page.replace('lang="en"', "")
    headings = section_headings(unescape(page))
    for key in SECTION_KEYS:
        assert TEXTS[key]["fr"] in headings, key
        assert TEXTS[key]["en"] not in headings, key
    # "Coefficients" and "Diagnostics" are the same word in both languages.
    english = {texts["en"] for texts in TEXTS.values() if texts["en"] != texts["fr"]}
    assert not [heading for heading in headings if heading in english]
    # The engine's findings stay English, marked as such for screen readers and readers.
    assert '<ul lang="en">' in page and "rédigés en anglais" in page
    # Charts speak French too.
    assert "personnes ayant cette combinaison" in page and "sur la liste" in page
    assert "Rapport produit par le module d'estimation de tiphub" in unescape(page)
    assert "deviance" not in page.casefold().replace("déviance", "")


def test_unknown_language_is_refused(uk: CaptureTable, uk_main: MSEResult) -> None:
    with pytest.raises(ValueError, match="must be one of en, fr"):
        estimate_report_html(uk_main, uk, lang="de")


# ---------------------------------------------------------------------- safety


def hostile() -> CaptureTable:
    names = ("<script>", "A&B", 'q"$x$')
    counts = {1: 300, 2: 250, 4: 200, 3: 60, 5: 50, 6: 40, 7: 9}
    return CaptureTable.from_counts(names, counts, source="/home/someone/private/cases.csv")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_self_contained_and_escaped(tmp_path: Path, lang: str) -> None:
    table = hostile()
    result = estimate(table, "stepwise")
    result.alternatives = {"main": {"population": 1_000.0, "interval_95": [900.0, 1_200.0]}}
    result.population_described = {"roles": ["<img src=x onerror=alert(1)>"]}
    target = write_estimate_report(result, table, tmp_path / "report.html", lang=lang)
    page = target.read_text(encoding="utf-8")
    assert "<script" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "A&amp;B" in page
    assert "/home/someone" not in page and "cases.csv" in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= SVG_NAMESPACES
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [tag for tag in tags if re.match(r"<(link|iframe|object|embed|img)\b", tag)]
    # Inside the SVGs, links only point within the page (clip paths, glyphs).
    assert not [tag for tag in tags if re.search(r"\b(src|href)=\"(?!#)", tag)]
    assert "@import" not in page
    assert target.stat().st_mode & 0o777 == 0o600


def test_chromium_draws_the_charts(tmp_path: Path, uk: CaptureTable) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    result = estimate(uk, "stepwise")
    main = estimate(uk, "main")
    result.alternatives = {"main": {"population": main.population, "interval_95": [11_000.0, None]}}
    target = write_estimate_report(result, uk, tmp_path / "report.html", lang="fr")
    outside: list[str] = []
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("file:")
                    else (outside.append(route.request.url), route.abort())
                ),
            )
            page.goto(target.as_uri())
            boxes = page.eval_on_selector_all(
                "figure svg",
                "nodes => nodes.map(n => { const r = n.getBoundingClientRect();"
                " return [r.width, r.height]; })",
            )
            overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        finally:
            browser.close()
    assert len(boxes) == 2
    assert all(width > 300 and height > 150 for width, height in boxes), boxes
    assert outside == [] and overflow is False


# ---------------------------------------------------------------------- command line

runner = CliRunner()


def test_cli_lang(tmp_path: Path) -> None:
    report = tmp_path / "rapport.html"
    source = str(DATA / "UKdat.csv")
    outcome = runner.invoke(
        app, ["estimate", source, "--method", "main", "--report", str(report), "--lang", "fr"]
    )
    assert outcome.exit_code == 0, outcome.output
    page = report.read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and f"12{NNBSP}214" in page
    wrong = runner.invoke(app, ["estimate", source, "--report", str(report), "--lang", "de"])
    assert wrong.exit_code == 2 and "--lang must be one of en, fr" in wrong.output
    alone = runner.invoke(app, ["estimate", source, "--lang", "fr"])
    assert alone.exit_code == 2 and "add --report" in alone.output
