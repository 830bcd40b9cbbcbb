"""The licence register: reading an inspectorate's CSV and flagging ads against it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tiphub.online.ads import Contact, IndicatorHit, RawAd
from tiphub.online.contacts import contact_hash
from tiphub.online.register import (
    Register,
    RegisterError,
    check_register,
    check_register_hashed,
    licence_key,
    licence_mentions,
    read_register,
)
from tiphub.store import crypto

TODAY = dt.date(2026, 12, 1)

REGISTER_CSV = """\
Name;Licence_Number;Address;Phone;Email;Website;Status;Valid_Until
EuroJobs Recrutare SRL;RO-1234/2019;Str. Exemplu 1, Cluj;+40 721 234 567;office@eurojobs.example;www.eurojobs.example;valid;2030-12-31
Lusitania Emprego Lda;ALV-456/2018;Rua Exemplo 2, Lisboa;+351 912 345 678;geral@lusitania.example;;valid;
Closed Staffing Ltd;UK-777;1 Example Road, Leeds;+44 113 496 0000;;;revoked;
Stale Personal GmbH;DE-55-778;Beispielweg 3, Berlin;;;;valid;2025-06-30
"""


def _register(tmp_path: Path, text: str = REGISTER_CSV, name: str = "register.csv") -> Register:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_register(path)


def _ad(text: str, title: str | None = None) -> RawAd:
    return RawAd(ad_id="ad-1", text=text, title=title, source="ads.csv", row=2)


def _check(
    register: Register, text: str, contacts: tuple[Contact, ...] = ()
) -> dict[str, IndicatorHit]:
    [hits] = check_register(register, [_ad(text)], [list(contacts)], today=TODAY)
    return {hit.id: hit for hit in hits}


PHONE_EUROJOBS = Contact("phone", "+40721234567", "RO")
PHONE_LUSITANIA = Contact("phone", "+351912345678", "PT")
PHONE_STRANGER = Contact("phone", "+40744000111", "RO")


# -- reading -----------------------------------------------------------------------------------


def test_reads_semicolon_register_with_any_header_case(tmp_path: Path) -> None:
    register = _register(tmp_path)
    assert [agency.licence_number for agency in register.agencies] == [
        "RO-1234/2019",
        "ALV-456/2018",
        "UK-777",
        "DE-55-778",
    ]
    eurojobs = register.agencies[0]
    assert eurojobs.valid_until == dt.date(2030, 12, 31)
    assert eurojobs.row == 2
    assert PHONE_EUROJOBS in eurojobs.contacts
    assert Contact("email", "office@eurojobs.example") in eurojobs.contacts
    assert any(
        c.kind == "url" and c.value.startswith("eurojobs.example") for c in eurojobs.contacts
    )
    assert register.agencies[2].status == "revoked"
    assert register.agencies[1].status == "valid"  # the default for an empty cell
    assert register.source == "register.csv"


def test_comma_register_with_only_required_columns(tmp_path: Path) -> None:
    register = _register(tmp_path, "NAME,LICENCE_NUMBER,Notes\nAlpha Agency,A-1\n")
    assert register.agencies[0].name == "Alpha Agency"
    assert register.agencies[0].status == "valid"
    assert register.ignored_columns == ("notes",)


def test_rows_round_trip(tmp_path: Path) -> None:
    register = _register(tmp_path)
    again = Register.from_rows(register.to_rows(), source="register.csv")
    assert again.agencies == register.agencies
    assert again.to_rows() == register.to_rows()


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("Secret Name Agency;;valid;", "licence_number"),
        ("Secret Name Agency;S-1;valid;31/12/2030", "valid_until"),
        ("Secret Name Agency;S-1;dormant-secretly;", "status"),
        (";S-1;valid;", "name"),
    ],
)
def test_bad_row_refuses_file_naming_row_and_field_not_value(
    tmp_path: Path, row: str, field: str
) -> None:
    text = f"name;licence_number;status;valid_until\nGood Agency;G-1;valid;\n{row}\n"
    with pytest.raises(RegisterError) as caught:
        _register(tmp_path, text)
    error = caught.value
    assert (error.source, error.row, error.column) == ("register.csv", 3, field)
    assert [(p.row, p.field) for p in error.problems] == [(3, field)]
    message = str(error)
    assert message.startswith(f"register.csv, row 3, column '{field}': ")
    for secret in ("Secret Name", "31/12/2030", "dormant-secretly", "S-1"):
        assert secret not in message


def test_every_bad_row_is_reported_and_nothing_returned(tmp_path: Path) -> None:
    text = "name,licence_number,phone\nA,1,\nB,,\nC,1,\nD,2,not a phone\n"
    with pytest.raises(RegisterError) as caught:
        _register(tmp_path, text)
    located = [(p.row, p.field) for p in caught.value.problems]
    assert located == [(3, "licence_number"), (4, "licence_number"), (5, "phone")]
    assert "already on row 2" in caught.value.problems[1].message
    assert "not a phone" not in str(caught.value)


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    with pytest.raises(RegisterError) as caught:
        _register(tmp_path, "name,phone\nA,+40721234567\n")
    assert (caught.value.row, caught.value.column) == (1, "licence_number")
    assert "missing column" in str(caught.value)


def test_licence_numbers_compare_whatever_the_spelling() -> None:
    assert licence_key("AG-12/2020") == licence_key("ag 12 2020") == "AG122020"
    assert licence_key("АВ 123") == licence_key("AB-123")  # Cyrillic look-alikes


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("Licensed agency, licence no. AG-1234/2020.", "AG12342020"),
        ("Agence de recrutement, licence n° 75-2021-118", "752021118"),
        ("Agencia de empleo con licencia nº 123/2019", "1232019"),
        ("Agência de emprego, alvará n.º 456/2018", "4562018"),
        ("Agenția de recrutare, licența nr. 1234/2019", "12342019"),
        ("Кадровое агентство, лицензия № АВ 123456", "AB123456"),
        ("Кадрове агентство, ліцензія № 98765", "98765"),
        ("Personalvermittlung, Lizenz-Nr. 55-778", "55778"),
        ("agencja pracy, nr KRAZ 12345", "12345"),
    ],
)
def test_licence_mentions_in_several_languages(text: str, number: str) -> None:
    assert [mention.key for mention in licence_mentions(text)] == [number]


def test_years_and_counts_are_not_licence_numbers() -> None:
    assert licence_mentions("Licensed since 2010, license holder in 2020 hiring 200") == []


# -- checking ads ------------------------------------------------------------------------------


def test_clean_licensed_ad_raises_nothing(tmp_path: Path) -> None:
    register = _register(tmp_path)
    text = (
        "EuroJobs Recrutare is a recruitment agency, licence no. RO-1234/2019. "
        "Warehouse work in Cluj, call us."
    )
    assert _check(register, text, (PHONE_EUROJOBS,)) == {}
    # Contacts alone (no name) of the licence holder also make a clean ad.
    assert _check(register, "Licença alvará n.º ALV-456/2018. Ligue já.", (PHONE_LUSITANIA,)) == {}


@pytest.mark.parametrize(
    "text",
    [
        "Recruitment agency, licence no. XX-9999/2024. Work in Germany, 3000 EUR.",
        "Agencia de empleo, licencia nº 4321/2023. Trabajo en Alemania.",
        "Кадровое агентство, лицензия № 55501. Работа в Польше.",
    ],
)
def test_unknown_licence_number(tmp_path: Path, text: str) -> None:
    hits = _check(_register(tmp_path), text)
    assert set(hits) == {"agency-licence-unknown", "agency-unlicensed"}
    mention = hits["agency-licence-unknown"].evidence[0]
    assert mention in text and any(c.isdigit() for c in mention)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Staffing in the UK, licence no. UK-777. Apply today.", "register: licence revoked"),
        (
            "Personalvermittlung, Lizenz-Nr. DE-55-778. Arbeit in Berlin.",
            "register: licence expired on 2025-06-30",
        ),
    ],
)
def test_invalid_licence(tmp_path: Path, text: str, reason: str) -> None:
    hits = _check(_register(tmp_path), text)
    assert set(hits) == {"agency-licence-invalid"}
    assert reason in hits["agency-licence-invalid"].evidence
    assert hits["agency-licence-invalid"].evidence[0] in text


def test_named_agency_with_revoked_licence_is_invalid_without_a_number(tmp_path: Path) -> None:
    hits = _check(_register(tmp_path), "Closed Staffing Ltd is hiring drivers, call now.")
    assert set(hits) == {"agency-licence-invalid"}
    assert "Closed Staffing" in hits["agency-licence-invalid"].evidence


def test_contacts_of_one_agency_with_licence_of_another(tmp_path: Path) -> None:
    text = "Agência de emprego, alvará n.º RO-1234/2019. Trabalho na Roménia, ligue."
    hits = _check(_register(tmp_path), text, (PHONE_LUSITANIA,))
    assert set(hits) == {"agency-licence-mismatch"}
    evidence = hits["agency-licence-mismatch"].evidence
    assert "alvará n.º RO-1234/2019" in evidence
    assert "phone matches the register (another agency)" in evidence
    assert not any("+351" in item or "912" in item for item in evidence)


def test_name_of_one_agency_with_unknown_number(tmp_path: Path) -> None:
    text = "EuroJobs Recrutare SRL — agenție de recrutare, licența nr. 9999/2099."
    hits = _check(_register(tmp_path), text)
    assert {"agency-licence-unknown", "agency-licence-mismatch"} <= set(hits)
    assert "agency-unlicensed" not in hits  # its name is in the register


def test_registered_agency_claiming_licence_without_number(tmp_path: Path) -> None:
    text = "Eurojobs Recrutare, licensed agency. Factory work, travel paid."
    hits = _check(_register(tmp_path), text)
    assert set(hits) == {"agency-licence-mismatch"}
    evidence = hits["agency-licence-mismatch"].evidence
    assert "no licence number given" in evidence
    assert "Eurojobs Recrutare" in evidence


def test_licence_of_agency_whose_contacts_differ(tmp_path: Path) -> None:
    text = "Licence no. RO-1234/2019. Call or WhatsApp for work in Spain."
    hits = _check(_register(tmp_path), text, (PHONE_STRANGER,))
    assert set(hits) == {"agency-licence-mismatch"}
    assert "phone differs from the licence holder's" in hits["agency-licence-mismatch"].evidence


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("We are a recruitment agency. Work in the UK, 2500 GBP.", "recruitment agency"),
        ("Agence de recrutement: travail en Belgique, logement payé.", "Agence de recrutement"),
        ("Агентство по трудоустройству: работа в Польше.", "Агентство по трудоустройству"),
        ("Agência de emprego procura trabalhadores.", "Agência de emprego"),
    ],
)
def test_unlicensed_agency(tmp_path: Path, text: str, phrase: str) -> None:
    hits = _check(_register(tmp_path), text, (PHONE_STRANGER,))
    assert set(hits) == {"agency-unlicensed"}
    assert hits["agency-unlicensed"].evidence[0] == phrase


def test_agency_matched_by_contact_is_not_unlicensed(tmp_path: Path) -> None:
    text = "Recruitment agency: warehouse work, write to us."
    email = Contact("email", "jobs@eurojobs.example")  # another mailbox, the agency's domain
    assert _check(_register(tmp_path), text, (email,)) == {}
    free_mail = Contact("email", "eurojobs.recruit@gmail.com")
    assert set(_check(_register(tmp_path), text, (free_mail,))) == {"agency-unlicensed"}


def test_ads_and_contacts_must_pair(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one list of contacts per ad"):
        check_register(_register(tmp_path), [_ad("x")], [], today=TODAY)


def test_register_in_a_code_page_is_refused_unless_named(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes("name;licence_number\nAgência São João;ALV-1\n".encode("cp1252"))
    with pytest.raises(RegisterError) as caught:
        read_register(path)
    assert "not UTF-8 text (a bad byte on line 2)" in str(caught.value)
    assert "São" not in str(caught.value)
    assert read_register(path, encoding="cp1252").agencies[0].name == "Agência São João"


def test_national_phone_numbers_read_with_default_region(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text("name,licence_number,phone\nAlpha,A-1,0721 234 567\n", encoding="utf-8")
    with pytest.raises(RegisterError) as caught:
        read_register(path)
    assert (caught.value.row, caught.value.column) == (2, "phone")
    assert read_register(path, default_region="RO").agencies[0].contacts == (PHONE_EUROJOBS,)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TIPHUB_KEYS", crypto.Keyring.generate().to_json())
    crypto.forget_cached_keys()
    yield
    crypto.forget_cached_keys()


def test_stored_ads_checked_by_contact_hashes(tmp_path: Path, keys: None) -> None:
    register = _register(tmp_path)
    text = "Agência de emprego, alvará n.º RO-1234/2019. Trabalho na Roménia, ligue."
    ads = [_ad(text), _ad("Recruitment agency: warehouse work, call us.")]
    hashes = [
        [("phone", contact_hash(PHONE_LUSITANIA))],
        [("phone", contact_hash(PHONE_STRANGER))],
    ]
    first, second = check_register_hashed(register, ads, hashes, today=TODAY)
    assert [hit.id for hit in first] == ["agency-licence-mismatch"]
    assert "phone matches the register (another agency)" in first[0].evidence
    assert [hit.id for hit in second] == ["agency-unlicensed"]
    evidence = " ".join(item for hit in first + second for item in hit.evidence)
    assert hashes[0][0][1] not in evidence and "912345678" not in evidence
