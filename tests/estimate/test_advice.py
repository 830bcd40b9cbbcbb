"""Warnings in the reader's language (tiphub.estimate.advice and advice_texts).

The English sentences expected below are written out by hand, as the engine wrote them before
its warnings became templates, so a template that drifts from the engine's words fails; the
French ones are checked for their words, their typography (no-break spaces before ``:``,
``%`` and ``;``) and their number formats (``12 214``, ``3,6``).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tiphub.estimate.advice import EstimateWarning, render, render_warning
from tiphub.estimate.advice_texts import FRAGMENTS, LANGUAGES, WARNING_TEXTS
from tiphub.estimate.api import estimate
from tiphub.estimate.explain import estimate_report_html
from tiphub.estimate.table import CaptureTable

PACKAGE = Path(__file__).resolve().parents[2] / "tiphub"
NBSP = "\u00a0"
NNBSP = "\u202f"
# A code raised as `result.warn("code", ...)` or built as `EstimateWarning("code", ...)`
# (`warnings.warn(...)` of the standard library is another thing).
RAISED = re.compile(
    r'(?<!warnings)\.warn\(\s*"([^"]+)"|EstimateWarning(?:\.from_values)?\(\s*"([^"]+)"'
)
# "note" is the code given to plain-string warnings: its text is whatever a caller wrote.
UNTRANSLATABLE = {"note"}


def make(lists: str, cells: dict[str, int]) -> CaptureTable:
    """A table from histories written as 0/1 strings in list order, e.g. {"110": 5}."""
    counts = np.zeros(1 << len(lists), dtype=np.int64)
    for history, count in cells.items():
        counts[sum(1 << i for i, on in enumerate(history) if on == "1")] = count
    return CaptureTable(tuple(lists), counts)


def raised_codes() -> set[str]:
    codes = set()
    for path in PACKAGE.rglob("*.py"):
        for match in RAISED.finditer(path.read_text(encoding="utf-8")):
            codes.add(match.group(1) or match.group(2))
    return codes - UNTRANSLATABLE


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# ---------------------------------------------------------------------- the catalogue


def test_every_code_raised_in_the_package_has_english_and_french_words() -> None:
    codes = raised_codes()
    # The scan must see the package's warnings at all (checks.py alone raises a dozen).
    assert {"methods-disagree", "small-sample", "unstable-bootstrap", "lists-left-out"} <= codes
    missing = {
        code: [lang for lang in LANGUAGES if lang not in WARNING_TEXTS.get(code, {})]
        for code in codes
    }
    assert {code: langs for code, langs in missing.items() if langs} == {}


def test_every_language_of_a_code_uses_the_same_values() -> None:
    for code, texts in WARNING_TEXTS.items():
        used = {lang: placeholders(" ".join(texts[lang])) for lang in LANGUAGES}
        assert used["fr"] == used["en"], code
    for name, pieces in FRAGMENTS.items():
        assert set(pieces) == set(LANGUAGES), name
        assert placeholders(pieces["fr"]) == placeholders(pieces["en"]), name


def test_french_typography() -> None:
    """No plain space before : ; % and no plain space inside a French number."""
    for code, texts in WARNING_TEXTS.items():
        for text in texts["fr"]:
            assert not re.search(r" [:;%?!]", text), (code, text)
            assert not re.search(r"\d [0-9]{3}\b", text), (code, text)
    for name, pieces in FRAGMENTS.items():
        assert not re.search(r" [:;%?!]", pieces["fr"]), name


# ---------------------------------------------------------------------- English as before

# (code, values, message, advice) with the English the engine wrote before the templates.
ENGLISH_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "methods-disagree",
        {
            "figures": [
                {"name": "main", "population": 9194.2, "low": 8000.0, "high": 10500.4},
                {"name": "stepwise", "population": 31659.0, "low": 25538.1, "high": None},
            ],
            "pairs": [{"a": "main", "b": "stepwise"}],
            "factor": 31659.0 / 9194.2,
        },
        "The methods disagree on this table: main 9,194 (95% 8,000 – 10,500); stepwise "
        "31,659 (95% 25,538 – unbounded). The 95% intervals of main and stepwise do not "
        "overlap (the highest figure is 3.4 times the lowest), so the figure depends on which "
        "assumption about the lists' dependence is right.",
        "Do not quote one figure alone: run `tiphub estimate robustness` on the same file to "
        "compare every method and list merge or omission, and report the figure it recommends "
        "or the range.",
    ),
    (
        "few-overlaps",
        {"recaptured": 1, "minimum": 7},
        "Only 1 person is on two or more lists. The estimate of how many were missed rests on "
        "these few people alone; below 7 the estimate is known to be strongly biased.",
        "Check that the linkage found everyone who is on several lists (a missed match "
        "inflates the estimate), and collect lists that share more people with these.",
    ),
    (
        "sparse-overlap",
        {
            "weak": [{"name": "NGO", "shared": 3, "total": 1250}],
            "weakest": "NGO",
            "partner": None,
        },
        "Some lists share almost no one with the other lists (NGO shares 3 of its 1,250 with "
        "any other list). How many people such a list misses is estimated from those few "
        "shared people alone, so the estimate depends heavily on them.",
        "Check the linkage for those lists; merge such a list with one recording similar "
        "people (with the list it resembles) or leave it out (e.g. --omit NGO) and compare the "
        "estimates; better, find which of its people are also on the other lists.",
    ),
    (
        "infinite-terms",
        {"terms": ["A:B", "A:C"], "first": ["A", "B"]},
        "No one observed is on all the lists of A:B, A:C, so the model sets those interactions "
        "to −∞: it assumes nobody at all — seen or missed — is on those lists together. If "
        "people could be on them together, the estimate of the missed people is too low.",
        "If those lists could share people, collect their overlap, or merge them (--merge A+B) "
        "and compare; also compare with --method main and `tiphub estimate robustness`.",
    ),
    (
        "bootstrap-failures",
        {"failed": 31, "requested": 200, "share": 31 / 200},
        "31 of 200 bootstrap replicates (16%) gave no estimate and were left out, so the "
        "interval comes from the replicates that happened to be estimable and is likely too "
        "narrow.",
        "Merge or omit lists that share almost no one (resampling often empties their "
        "overlaps), and compare with `tiphub estimate robustness`.",
    ),
    (
        "unstable-bootstrap",
        {
            "reasons": [
                {"kind": "z0", "z0": -1.2834, "share": 0.0996},
                {"kind": "median-outside", "median": 36870.2, "low": 25538.1, "high": 34000.0},
                {"kind": "same-limits", "sides": "lower", "value": 25538.1},
            ]
        },
        "The bootstrap interval is unreliable: the bias correction z0 is -1.28 (10% of "
        "replicates fall below the estimate); the replicates' median (36,870) lies outside the "
        "95% interval (25,538 – 34,000); the 95% and 80% lower limits are the same number "
        "(25,538), i.e. the most extreme replicate, not a real limit. The estimate changes a "
        "lot from one resampled table to the next (often because the selected model changes), "
        "and the BCa interval cannot correct for that.",
        "Do not quote this interval. Run more replicates (e.g. --bootstrap 2000), compare with "
        "`tiphub estimate robustness`, and merge or omit lists that share few people.",
    ),
    (
        "rcapture-boundary-model",
        {"criterion": "BIC", "existence_code": 1},
        "The best model by BIC has terms for lists that share (almost) no one: their "
        "parameters drift towards −∞ as in R's output, and the figure rests on that fit (the "
        "maximum-likelihood estimate does not exist (the data lie on the boundary)).",
        "Compare with --method bic, which leaves such models out, or merge lists that share no "
        "one.",
    ),
    (
        "dga_range_truncated",
        {"mass": 0.0234, "top": 123456.7},
        "the posterior still has 2.3% of its weight in the top tenth of the range searched (up "
        "to 123,457), so the median and upper limit depend on where the range stops",
        "Quote the figure together with that range, and compare --method lcmcr and --method "
        "bic, which do not cap the population; the lists overlap too little to rule out larger "
        "populations.",
    ),
    (
        "bayesthresh_low_acceptance",
        {"run": "final", "rate": 0.0042},
        "the final MCMC run accepted only 0.4% of its proposals, so its posterior is summarised "
        "from few distinct draws",
        "Compare runs with other --seed values before quoting the figure.",
    ),
    (
        "linkage-error-not-in-interval",
        {"links": 1234, "reason": "no-method"},
        "The table's linkage left 1,234 links uncertain, and the interval does not include that "
        "error: it is narrower than the data allow.",
        "Use a log-linear method (main, stepwise, aic-stepwise, bic) with --bootstrap 200.",
    ),
    (
        "lists-left-out",
        {"dropped": ["Police", "NGO"]},
        "Lists with nobody on them in this stratum were left out: Police, NGO.",
        "The stratum's estimate rests on the other lists only; merge strata if these lists "
        "matter for it.",
    ),
    (
        "lcmcr-chains-disagree",
        {
            "chains": 4,
            "medians": [48210.4, 150512.0, 47900.0, 151000.2],
            "rhat": 1.734,
            "limit": 1.1,
            "population": 99000.4,
        },
        "The 4 LCMCR chains, run with the same settings from different random starts, did not "
        "settle on the same answer: their medians are 48,210, 150,512, 47,900, 151,000 "
        "(split-R̂ 1.73; above 1.1 means they disagree). The model finds several quite "
        "different population sizes compatible with the lists, and the sampler stays in one of "
        "them for a long time; the pooled figure 99,000 mixes them and no single chain's "
        "figure can be trusted alone.",
        "Run longer and with more chains (e.g. --burnin 1000000 --chains 8). If the chains "
        "still disagree, report the range of their medians rather than one figure, and compare "
        "with the log-linear methods (tiphub estimate robustness).",
    ),
    (
        "lcmcr-chains-rough",
        {
            "chains": 4,
            "medians": [48210.4, 48900.0, 47900.0, 49000.2],
            "rhat": 1.071,
            "mcse": 612.5,
        },
        "The 4 LCMCR chains agree only roughly: their medians are 48,210, 48,900, 47,900, "
        "49,000 (split-R̂ 1.07). The sampler moves slowly on this table, so the figure carries "
        "a Monte-Carlo error of about ±612 (apart from the interval, which is the statistical "
        "uncertainty).",
        "For a more precise figure run longer (e.g. --burnin 1000000 --thinning 500) or with "
        "more chains (--chains 8).",
    ),
    (
        "not-converged",
        {},
        "The Poisson fit of the model did not converge, so the estimate may be wrong.",
        "Compare with --method main and `tiphub estimate robustness`; merging or omitting lists "
        "that share almost no one usually lets the fit converge.",
    ),
    (
        "rcapture-not-converged",
        {},
        "The Poisson fit stopped after 25 iterations without converging (as R's glm would): "
        "some parameters drift, and the estimate depends on where it stopped.",
        "Treat the figure with caution; run tiphub estimate robustness to compare methods.",
    ),
    (
        "profile-lower-at-observed",
        {},
        "The profile-likelihood interval reaches down to the number observed: the data cannot "
        "rule out that almost nobody was missed.",
        "Report the lower limit as the number observed; more overlap between lists would "
        "narrow the interval.",
    ),
    (
        "lcmcr-not-settled",
        {"which": "one", "geweke": 2.514, "rhat": 1.012},
        "The LCMCR chain was still drifting after its burn-in (Geweke z = 2.51, split-R̂ 1.01: "
        "its early and late draws differ), so the figure may move with a longer run.",
        "Raise --burnin (e.g. to 1,000,000) and check that the chains' medians agree (--chains "
        "4 or more).",
    ),
]


@pytest.mark.parametrize(
    ("code", "values", "message", "advice"), ENGLISH_CASES, ids=[c[0] for c in ENGLISH_CASES]
)
def test_english_words_are_the_engines_sentences(
    code: str, values: dict[str, Any], message: str, advice: str
) -> None:
    warning = EstimateWarning.from_values(code, values)
    assert (warning.message, warning.advice) == (message, advice)
    assert warning.to_dict() == {"code": code, "message": message, "advice": advice}
    assert warning.text("en") == f"{message} {advice}"
    # Every one of them also has its French, different from the English.
    assert warning.translates_to("fr")
    assert warning.message_in("fr") != message


def test_a_small_table_gives_the_engines_english_and_french_words() -> None:
    # 53 people on 4 lists; A–B and C–D strongly dependent, so main effects disagree with
    # the models that find those pairs.
    data = small_disagreeing_table()
    result = estimate(data, "main")
    found = {warning.code: warning for warning in result.checks}
    assert set(found) == {"methods-disagree", "small-sample"}
    assert found["small-sample"].message == (
        "Only 53 people are observed. With 4 lists the methods need roughly 75 or more (about 5 "
        "per combination of lists) for the interval's approximations to hold; with fewer, the "
        "estimate and its interval can be far off, and small changes in the data move them a "
        "lot."
    )
    assert found["small-sample"].message_in("fr") == (
        "Le nombre de personnes observées n'est que de 53. Avec 4 listes, les méthodes en "
        f"demandent environ 75 ou davantage (environ 5 par combinaison de listes) pour que les "
        f"approximations de l'intervalle soient valables{NNBSP}; en deçà, l'estimation et son "
        "intervalle peuvent être très éloignés de la réalité, et de petites modifications des "
        "données les font beaucoup varier."
    )
    # The strings callers read and the JSON keep the English.
    assert str(found["small-sample"]) in result.warnings
    payload = {w["code"]: w for w in result.to_dict()["warnings"]}
    assert payload["methods-disagree"]["message"].startswith("The methods disagree on this table:")


def small_disagreeing_table() -> CaptureTable:
    return make(
        "ABCD",
        {
            "1000": 6,
            "0100": 6,
            "0010": 6,
            "0001": 6,
            "1100": 15,
            "0011": 10,
            "1010": 1,
            "0101": 1,
            "1001": 1,
            "0110": 1,
        },
    )


# ---------------------------------------------------------------------- French


def test_french_numbers_follow_french_conventions() -> None:
    values: Mapping[str, Any] = {
        "figures": [
            {"name": "main", "population": 12214.4, "low": 10989.2, "high": 13621.0},
            {"name": "bic", "population": 25311.0, "low": 20000.0, "high": None},
        ],
        "pairs": [{"a": "main", "b": "bic"}],
        "factor": 25311.0 / 12214.4,
    }
    message, advice = render_warning("methods-disagree", "fr", values)
    assert message.startswith(
        f"Les méthodes ne concordent pas sur ce tableau{NBSP}: main 12{NNBSP}214"
    )
    assert f"(intervalle à 95{NBSP}%{NBSP}: 10{NNBSP}989 – 13{NNBSP}621)" in message
    assert f"20{NNBSP}000 – sans limite" in message
    assert "2,1 fois le plus bas" in message  # 25,311 / 12,214 = 2.07
    assert advice.startswith(f"Ne citez pas un chiffre isolé{NBSP}: lancez")
    assert render("{share:p}", {"share": 0.155}, "fr") == f"16{NBSP}%"
    assert render("{z0:f2}", {"z0": -1.2834}, "fr") == "-1,28"
    assert render("{x:c}", {"x": float("inf")}, "fr") == "sans limite"


def test_french_plural_treats_zero_and_one_as_singular() -> None:
    template = "{n:plural:personne|personnes}"
    assert [render(template, {"n": n}, "fr") for n in (0, 1, 2)] == [
        "personne",
        "personne",
        "personnes",
    ]
    assert [render("{n:plural:person|people}", {"n": n}, "en") for n in (0, 1, 2)] == [
        "people",
        "person",
        "people",
    ]


def test_french_report_shows_the_warnings_in_french() -> None:
    data = small_disagreeing_table()
    result = estimate(data, "main")
    page = estimate_report_html(result, data, lang="fr")
    start = page.index('<section class="checks"')
    box = page[start : page.index("</section>", start)]
    assert "Les méthodes ne concordent pas sur ce tableau" in box
    assert "le chiffre le plus élevé vaut 3,6 fois le plus bas" in box  # 202 / 56, decimal comma
    assert f"main 71 (intervalle à 95{NBSP}%{NBSP}: 62 – 88){NNBSP};" in box
    assert "Le nombre de personnes observées n&#x27;est que de 53" in box
    assert f"Que faire{NBSP}:" in box
    # No English sentence, no English marking, no note that the findings are in English.
    for english in ("The methods disagree", "Only 53 people", "What to do", "Do not quote"):
        assert english not in box
    assert 'lang="en"' not in box
    assert "anglais" not in box


def test_a_warning_without_french_stays_english_and_is_marked() -> None:
    data = small_disagreeing_table()
    result = estimate(data, "main")
    result.warn("hand-written", "A caller's own finding.", "Its own advice.")
    result.warnings.append("A plain note.")
    page = estimate_report_html(result, data, lang="fr")
    start = page.index('<section class="checks"')
    box = page[start : page.index("</section>", start)]
    assert '<li lang="en"><span>A caller&#x27;s own finding.</span>' in box
    assert '<li lang="en">A plain note.</li>' in box
    assert "Les méthodes ne concordent pas" in box and "restent en anglais" in box
    # The French findings are not marked English.
    assert box.count('lang="en"') == 2


def test_a_known_code_with_other_words_keeps_its_own_words() -> None:
    """A warning written by hand under a known code is not replaced by the template's words."""
    warning = EstimateWarning("small-sample", "Eleven people only.", "Collect more.")
    assert not warning.translates_to("fr")
    assert warning.message_in("fr") == "Eleven people only."
    assert warning.advice_in("fr") == "Collect more."


def test_a_warning_is_frozen_hashable_and_compared_by_its_words() -> None:
    warning = EstimateWarning.from_values(
        "lists-left-out", {"dropped": np.array(["A", "B"]).tolist()}
    )
    same_words = EstimateWarning(warning.code, warning.message, warning.advice)
    assert warning == same_words and hash(warning) == hash(same_words)
    assert warning.values["dropped"] == ("A", "B")
    with pytest.raises(TypeError):
        warning.values["dropped"] = ("C",)  # type: ignore[index]
    # numpy numbers become plain Python numbers (printable, JSON-ready).
    failures = EstimateWarning.from_values(
        "bootstrap-failures",
        {"failed": np.int64(31), "requested": 200, "share": np.float64(0.155)},
    )
    assert type(failures.values["failed"]) is int and type(failures.values["share"]) is float
