"""Templates: the demo banner, the quick exit, CSP-safe markup, labelled controls, escaping."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tiphub.web import forms
from tiphub.web.templating import render, templates

TEMPLATES = Path(forms.__file__).resolve().parent / "templates"
STATIC = TEMPLATES.parent / "static"
DEMO_TEXT = "Demonstration – synthetic data only. Do not enter real cases."
USER = {"username": "caseworker1", "organisation": "Safe Harbour"}
PAGE_CONTEXT: dict[str, dict[str, Any]] = {
    "base.html": {"title": "Home"},
    "signin.html": {},
    "error.html": {"title": "Not found", "detail": "No such page.", "status": 404},
    "message.html": {"title": "Saved", "text": "The case is saved.", "link_href": "/cases"},
}


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.script_bodies: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.script_bodies.append(data)

    def find(self, tag: str, **wanted: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(key) == value for key, value in wanted.items())
        ]


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def extending_templates() -> list[str]:
    children = [
        path.name
        for path in TEMPLATES.glob("*.html")
        if '{% extends "base.html" %}' in path.read_text(encoding="utf-8")
    ]
    return [*sorted(children), "base.html"]


@pytest.mark.parametrize("demo", [True, False])
@pytest.mark.parametrize("user", [USER, None])
@pytest.mark.parametrize("name", ["base.html", "signin.html"])
def test_demo_banner_only_in_demo_mode(name: str, demo: bool, user: dict[str, str] | None) -> None:
    html = render("en", name, demo=demo, user=user, csrf_token="t0ken", **PAGE_CONTEXT[name])
    page = parse(html)
    banners = [attrs for attrs in page.find("div") if "demo-banner" in (attrs.get("class") or "")]
    assert (DEMO_TEXT in html) is demo
    assert len(banners) == (1 if demo else 0)
    if demo:
        assert banners[0].get("role") == "status"
    logout = page.find("form", action="/auth/logout")
    assert len(logout) == (1 if user else 0)
    assert ("caseworker1" in html) is (user is not None)
    if user:
        assert page.find("input", type="hidden", name="csrf_token", value="t0ken")


@pytest.mark.parametrize("name", extending_templates())
@pytest.mark.parametrize("locale", ["en", "fr"])
def test_quick_exit_on_every_page(name: str, locale: str) -> None:
    page = parse(render(locale, name, **PAGE_CONTEXT.get(name, {})))
    focusable = [
        attrs
        for tag, attrs in page.elements
        if tag in ("a", "button", "input", "select", "textarea") and attrs.get("type") != "hidden"
    ]
    first = focusable[0]
    assert first.get("id") == "quick-exit"
    assert first.get("href") == "https://www.wikipedia.org/"
    assert first.get("data-neutral-url") == "https://www.wikipedia.org/"
    scripts = {attrs.get("src", "").split("?")[0] for attrs in page.find("script")}  # type: ignore[union-attr]
    assert {"/static/quick-exit.js", "/static/htmx.min.js"} <= scripts
    assert page.find("meta", name="htmx-config")


def test_quick_exit_script_beacons_and_replaces() -> None:
    script = (STATIC / "quick-exit.js").read_text(encoding="utf-8")
    assert 'sendBeacon("/auth/quick-exit"' in script
    assert "location.replace(" in script
    assert "data-neutral-url" in script
    assert "Escape" in script


def test_quick_exit_url_can_be_configured() -> None:
    page = parse(render("en", "base.html", quick_exit_url="https://weather.example/"))
    assert page.find("a", id="quick-exit")[0].get("data-neutral-url") == (
        "https://weather.example/"
    )


@pytest.mark.parametrize("path", sorted(TEMPLATES.glob("*.html")), ids=lambda path: path.name)
def test_templates_are_csp_safe(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", source, re.DOTALL | re.I):
        assert "src=" in match.group(1), "inline <script>"
        assert not match.group(2).strip(), "inline script body"
    assert not re.search(r"<style\b", source, re.I)
    assert not re.search(r"\sstyle\s*=", source, re.I)
    assert not re.search(r"\son[a-z]+\s*=", source, re.I)
    assert "javascript:" not in source.lower()
    assert "hx-on" not in source


@pytest.mark.parametrize("name", extending_templates())
def test_rendered_pages_are_csp_safe(name: str) -> None:
    html = render("fr", name, demo=True, user=USER, csrf_token="x", **PAGE_CONTEXT.get(name, {}))
    page = parse(html)
    assert not page.script_bodies
    for _tag, attrs in page.elements:
        assert "style" not in attrs
        assert not any(key.startswith("on") for key in attrs)


def macro_page(specs: list[forms.FieldSpec], values: dict[str, Any], errors: dict[str, str]) -> str:
    source = '{% import "macros.html" as ui with context %}{{ ui.fields(specs, values, errors) }}'
    return templates("en").from_string(source).render(specs=specs, values=values, errors=errors)


ALL_SPECS = [
    *forms.case_fields(),
    *forms.person_fields(include_identity=True),
    *forms.victim_fields(),
    *forms.status_fields(),
    *forms.consent_fields(),
    *forms.referral_fields(),
    *forms.note_fields(),
]


def unique_specs() -> list[forms.FieldSpec]:
    seen: dict[str, forms.FieldSpec] = {}
    for spec in ALL_SPECS:
        seen.setdefault(spec.name, spec)
    return list(seen.values())


def test_every_control_has_a_label() -> None:
    specs = unique_specs()
    html = macro_page(specs, {}, {spec.name: "Check this." for spec in specs})
    page = parse(html)
    label_targets = [attrs.get("for") for attrs in page.find("label")]
    ids = [attrs.get("id") for _tag, attrs in page.elements if attrs.get("id")]
    assert len(ids) == len(set(ids)), "duplicate ids"
    controls = [
        attrs
        for tag, attrs in page.elements
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden"
    ]
    assert len(controls) >= len(specs)
    for attrs in controls:
        assert attrs.get("id") in label_targets, attrs
        assert attrs.get("aria-invalid") == "true"


def test_hints_and_errors_are_described() -> None:
    spec = next(spec for spec in ALL_SPECS if spec.name == "birth_date")
    page = parse(macro_page([spec], {}, {"birth_date": "Enter a real date."}))
    control = page.find("input", id="f-birth_date")[0]
    described = (control.get("aria-describedby") or "").split()
    assert described == ["f-birth_date-hint", "f-birth_date-error"]
    assert page.find("p", id="f-birth_date-error")
    assert control.get("aria-invalid") == "true"
    quiet = parse(macro_page([spec], {}, {})).find("input", id="f-birth_date")[0]
    assert "aria-invalid" not in quiet
    assert quiet.get("aria-describedby") == "f-birth_date-hint"


def test_groups_have_legends_and_values_are_shown() -> None:
    victim = {spec.name: spec for spec in ALL_SPECS}
    specs = [victim["exploitation_types"], victim["deceased"], victim["opened_on"]]
    values = {
        "exploitation_types": ["ForcedLabour"],
        "deceased": False,
        "opened_on": dt.date(2024, 3, 31),
    }
    html = macro_page(specs, values, {})
    page = parse(html)
    assert html.count("<legend>") == 2
    assert "checked" in page.find("input", type="checkbox", value="ForcedLabour")[0]
    assert "checked" not in page.find("input", type="checkbox", value="OrganRemoval")[0]
    assert "checked" in page.find("input", type="radio", value="no")[0]
    assert page.find("input", type="date", value="2024-03-31")
    required = next(spec for spec in ALL_SPECS if spec.name == "given")
    radios = parse(macro_page([required], {}, {})).find("input", type="radio")
    assert [attrs.get("value") for attrs in radios] == ["yes", "no"]


def test_values_are_escaped() -> None:
    spec = next(spec for spec in ALL_SPECS if spec.name == "case_owner")
    html = macro_page([spec], {"case_owner": '"><script>alert(1)</script>'}, {})
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    page = render(
        "en",
        "message.html",
        title="<script>alert(1)</script>",
        text="<b>x</b>",
        user={"username": "<script>", "organisation": "A&B"},
        messages=[("error", "<img src=x>")],
        nav=[{"href": "/cases", "label": "<i>Cases</i>", "current": True}],
    )
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "<img" not in page and "<b>" not in page and "<i>" not in page
    assert "A&amp;B" in page


def test_messages_roles() -> None:
    page = parse(render("en", "base.html", messages=[("error", "Bad"), ("success", "Good")]))
    roles = [
        attrs.get("role") for attrs in page.find("p") if "message" in (attrs.get("class") or "")
    ]
    assert roles == ["alert", "status"]


def test_error_page_shows_no_internals() -> None:
    html = render("en", "error.html", title="Server error", detail="Please try again.", status=500)
    assert "Error 500" in html
    assert "Traceback" not in html


def test_nav_marks_the_current_page() -> None:
    nav = [
        {"href": "/cases", "label": "Cases", "current": True},
        {"href": "/reports", "label": "Reports", "current": False},
    ]
    page = parse(render("en", "base.html", nav=nav))
    assert page.find("a", href="/cases")[0].get("aria-current") == "page"
    assert "aria-current" not in page.find("a", href="/reports")[0]


def test_language_switcher_posts_the_choice() -> None:
    page = parse(render("fr", "base.html", csrf_token="tok", current_path="/cases"))
    form = page.find("form", action="/locale")
    assert form and form[0].get("method") == "post"
    assert page.find("option", value="fr")[0].get("selected") is None
    assert "selected" in page.find("option", value="fr")[0]
    assert page.find("input", name="next", value="/cases")
    assert page.find("html", lang="fr")


def test_pager_and_table() -> None:
    source = (
        '{% import "macros.html" as ui with context %}'
        '{{ ui.data_table(["Case", "Opened"], rows, caption="Cases") }}{{ ui.pager(next_url) }}'
    )
    rows = [[{"href": "/cases/1", "text": "C-1"}, "2024-03-31"], ["<C-2>", ""]]
    html = templates("en").from_string(source).render(rows=rows, next_url="/cases?after=x")
    page = parse(html)
    assert page.find("a", href="/cases/1")
    assert page.find("a", rel="next", href="/cases?after=x")
    assert "&lt;C-2&gt;" in html
    assert page.find("div", role="region", tabindex="0")


def test_filters_use_the_locale() -> None:
    html = (
        templates("fr")
        .from_string("{{ 1234.5|number }} {{ d|date }}")
        .render(d=dt.date(2024, 3, 31))
    )
    assert "31 mars 2024" in html
    assert "1" in html and ",5" in html


def test_stylesheet_is_small_and_keeps_focus_visible() -> None:
    css = (STATIC / "tiphub.css").read_text(encoding="utf-8")
    assert len(css.encode("utf-8")) < 15_000
    assert not re.search(r"outline\s*:\s*(none|0)\b", css)
    assert ":focus-visible" in css
    assert "@font-face" not in css and "@import" not in css
    assert "@media print" in css
    for selector in (
        ".demo-banner",
        ".quick-exit",
        ".timeline",
        ".compare",
        ".badge",
        ".table-scroll",
    ):
        assert selector in css


def test_htmx_is_vendored_with_its_licence() -> None:
    assert (STATIC / "htmx.min.js").stat().st_size > 10_000
    assert "BSD" in (STATIC / "htmx.LICENSE.txt").read_text(encoding="utf-8")
    assert "htmx 2." in (STATIC / "README.md").read_text(encoding="utf-8")
