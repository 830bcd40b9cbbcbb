"""Contacts in ads: found, normalised, masked and hashed (fictional numbers and domains only)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tiphub.online.ads import Contact
from tiphub.online.contacts import contact_hash, extract_contacts, mask_contacts
from tiphub.store import crypto


def found(text: str, region: str | None = None) -> list[tuple[str, str]]:
    return [(contact.kind, contact.value) for contact in extract_contacts(text, region)]


def test_international_phone_is_e164_with_region() -> None:
    [contact] = extract_contacts("Call +44 7700 900123 today")
    assert contact == Contact("phone", "+447700900123", "GB")


def test_without_region_national_numbers_are_not_taken() -> None:
    assert found("Ring 020 7946 0123 today") == []


def test_national_number_with_default_region() -> None:
    assert found("Ring 020 7946 0123 today", "GB") == [("phone", "+442079460123")]


def test_salaries_and_dates_are_not_phones() -> None:
    text = "Salary 2500-3000 EUR, 1 800 € net, start 30/11/2026, ref 20261130"
    assert found(text, "DE") == []
    assert found(text) == []


def test_same_phone_written_differently_is_one_contact() -> None:
    text = "+44 7700 900123 or +44-7700-900123 or (+44) 7700 900 123"
    assert found(text) == [("phone", "+447700900123")]


def test_emails_are_lower_case() -> None:
    text = "CV to Jobs.Abroad@Example.COM, copy hr+ads@recruit.example.org."
    assert found(text) == [
        ("email", "jobs.abroad@example.com"),
        ("email", "hr+ads@recruit.example.org"),
    ]


def test_whatsapp_link_gives_handle_and_phone() -> None:
    contacts = extract_contacts("Message wa.me/447700900456 now")
    assert [(contact.kind, contact.value) for contact in contacts] == [
        ("handle", "whatsapp:+447700900456"),
        ("phone", "+447700900456"),
    ]
    assert contacts[1].region == "GB"


def test_messenger_named_before_a_number_is_a_handle_too() -> None:
    assert found("Viber/WhatsApp: +44 7700 900789") == [
        ("handle", "viber:+447700900789"),
        ("handle", "whatsapp:+447700900789"),
        ("phone", "+447700900789"),
    ]
    # A messenger named in another sentence does not label the number.
    assert found("No WhatsApp please. Our office phone is +44 7700 900789") == [
        ("phone", "+447700900789")
    ]


def test_telegram_handles_and_links() -> None:
    text = "Telegram @Work_Abroad_Test or https://t.me/WorkAbroadTest2 or t.me/s/jobs_test"
    assert found(text) == [
        ("handle", "telegram:work_abroad_test"),
        ("handle", "telegram:workabroadtest2"),
        ("handle", "telegram:jobs_test"),
    ]


def test_handles_in_several_languages() -> None:
    russian = "Пишите в телеграм: @rabota_test, звоните +44 7700 900111"
    assert found(russian) == [
        ("handle", "telegram:rabota_test"),
        ("phone", "+447700900111"),
    ]
    chinese = "加微信: wxid_test123 或 Line ID: jobline_test"
    assert found(chinese) == [("handle", "wechat:wxid_test123"), ("handle", "line:jobline_test")]
    portuguese = "Contacte-nos pelo Instagram: @vagas.test ou Skype: recrutador.test"
    assert found(portuguese) == [
        ("handle", "instagram:vagas.test"),
        ("handle", "skype:recrutador.test"),
    ]


def test_social_and_messenger_links() -> None:
    text = (
        "m.me/Jobs.Test https://www.instagram.com/Jobs_Test/ "
        "facebook.com/profile.php?id=100012345 viber://chat?number=%2B447700900222 "
        "https://signal.me/#p/+447700900333"
    )
    assert found(text) == [
        ("handle", "facebook:jobs.test"),
        ("handle", "instagram:jobs_test"),
        ("handle", "facebook:100012345"),
        ("handle", "viber:+447700900222"),
        ("phone", "+447700900222"),
        ("handle", "signal:+447700900333"),
        ("phone", "+447700900333"),
    ]


def test_common_words_are_not_handles() -> None:
    assert found("Line manager needed; good signal; @someone said hi") == []
    # "тг" (Telegram) inside a Russian word is not a label.
    assert found("отгрузка: +44 7700 900123") == [("phone", "+447700900123")]


def test_email_after_a_messenger_label_stays_an_email() -> None:
    assert found("Skype: john.smith@example.com") == [("email", "john.smith@example.com")]


def test_web_addresses_are_host_and_path_lower_case() -> None:
    text = "Apply: https://www.Example.com/Jobs/Apply/?ref=ad#form or http://jobs.example.test/x."
    assert found(text) == [("url", "example.com/jobs/apply"), ("url", "jobs.example.test/x")]


def test_a_number_inside_a_web_address_is_not_a_phone() -> None:
    assert found("https://ads.example.com/job/+447700900123") == [
        ("url", "ads.example.com/job/+447700900123")
    ]


def test_mask_contacts_replaces_each_contact_by_its_kind() -> None:
    text = (
        "Call +44 7700 900123, write to jobs@example.com, "
        "Telegram @work_test, see https://example.com/jobs. Pay 2500 EUR."
    )
    assert mask_contacts(text) == (
        "Call [phone], write to [email], Telegram [handle], see [url]. Pay 2500 EUR."
    )


def test_mask_contacts_with_region_and_links() -> None:
    text = "Zadzwoń 020 7946 0123 lub wa.me/447700900456"
    assert mask_contacts(text, "GB") == "Zadzwoń [phone] lub [handle]"
    assert mask_contacts("no contacts here") == "no contacts here"


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TIPHUB_KEYS", crypto.Keyring.generate().to_json())
    crypto.forget_cached_keys()
    yield
    crypto.forget_cached_keys()


def test_contact_hash_is_the_same_however_the_contact_was_written(keys: None) -> None:
    [first] = extract_contacts("+44 7700 900123")
    [second] = extract_contacts("(+44) 7700-900-123")
    assert contact_hash(first) == contact_hash(second)
    [upper] = extract_contacts("JOBS@EXAMPLE.COM")
    [lower] = extract_contacts("jobs@example.com")
    assert contact_hash(upper) == contact_hash(lower)
    assert contact_hash(first) != contact_hash(upper)
    assert len(contact_hash(first)) == 32 and "7700" not in contact_hash(first)


def test_contact_hash_depends_on_kind_and_key(keys: None, monkeypatch: pytest.MonkeyPatch) -> None:
    phone = Contact("phone", "+447700900123")
    handle = Contact("handle", "+447700900123")
    assert contact_hash(phone) != contact_hash(handle)
    before = contact_hash(phone)
    monkeypatch.setenv("TIPHUB_KEYS", crypto.Keyring.generate().to_json())
    crypto.forget_cached_keys()
    assert contact_hash(phone) != before


def test_one_scan_gives_the_same_contacts_and_masks_as_two() -> None:
    from tiphub.online.contacts import contacts_and_masked_fields

    fields = [
        "Pickers wanted: write to jobs@farm.example.com",
        None,
        "WhatsApp +44 7700 900123, Telegram @fruit_jobs",
        "",
        "see https://farm.example.com/apply or call +44 7700 900124",
    ]
    contacts, masked = contacts_and_masked_fields(fields)
    joined = "\n".join(value for value in fields if value)
    assert contacts == extract_contacts(joined)
    assert masked == [mask_contacts(value) if value else value for value in fields]
    assert all("7700" not in (value or "") for value in masked)
