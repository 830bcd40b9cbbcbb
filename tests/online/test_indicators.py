"""Indicator rules: every rule in every language fires on a written example and stays quiet
on a near miss, with the ad's own words as evidence."""

from __future__ import annotations

import re

import pytest

from tiphub.online.ads import Contact, RawAd
from tiphub.online.indicators import (
    detect_destination,
    detect_sector,
    find_indicators,
    indicator_catalogue,
    parse_salary,
)

LANGUAGES = ("en", "fr", "es", "pt", "ro", "ru", "uk", "de")

# (rule, language, positive example, near-miss negative)
EXAMPLES: list[tuple[str, str, str, str]] = [
    (
        "recruitment-fee",
        "en",
        "A registration fee of 300 EUR is paid before departure.",
        "We never charge fees to candidates.",
    ),
    (
        "recruitment-fee",
        "fr",
        "Frais de dossier : 250 euros à payer avant le départ.",
        "Aucuns frais pour les candidats, le recrutement est gratuit.",
    ),
    (
        "recruitment-fee",
        "es",
        "Se requiere una cuota de inscripción de 150 euros.",
        "Sin cuotas ni costes para el trabajador.",
    ),
    (
        "recruitment-fee",
        "pt",
        "É necessário pagar uma taxa de inscrição de 200 euros.",
        "Sem taxas para os candidatos.",
    ),
    (
        "recruitment-fee",
        "ro",
        "Taxa de înscriere este 100 euro, plătibilă la agenție.",
        "Fără taxe pentru candidați, recrutare gratuită.",
    ),
    (
        "recruitment-fee",
        "ru",
        "Регистрационный взнос 100 евро, оплата за оформление документов.",
        "Без предоплат, никаких взносов с кандидатов.",
    ),
    (
        "recruitment-fee",
        "uk",
        "Реєстраційний внесок 100 євро перед виїздом.",
        "Без передоплат, жодних внесків з кандидатів.",
    ),
    (
        "recruitment-fee",
        "de",
        "Die Vermittlungsgebühr beträgt 300 Euro.",
        "Für Bewerber fallen keine Vermittlungsgebühren an.",
    ),
    (
        "pay-above-norm",
        "en",
        "Easy money! Earn 5000 EUR a month.",
        "Salary according to experience and collective agreement.",
    ),
    (
        "pay-above-norm",
        "fr",
        "Salaire très élevé pour tous, argent facile.",
        "Salaire selon la convention collective.",
    ),
    (
        "pay-above-norm",
        "es",
        "Sueldo muy alto, dinero fácil desde el primer día.",
        "Salario según convenio.",
    ),
    (
        "pay-above-norm",
        "pt",
        "Salário muito alto, dinheiro fácil.",
        "Salário de acordo com o contrato coletivo.",
    ),
    (
        "pay-above-norm",
        "ro",
        "Salariu foarte mare, câștigi până la 4000 euro.",
        "Salariul se stabilește la interviu.",
    ),
    (
        "pay-above-norm",
        "ru",
        "Высокая зарплата, лёгкие деньги каждый день.",
        "Зарплата по договорённости.",
    ),
    ("pay-above-norm", "uk", "Висока зарплата, легкі гроші щодня.", "Зарплата за домовленістю."),
    (
        "pay-above-norm",
        "de",
        "Spitzenverdienst und schnelles Geld garantiert.",
        "Vergütung nach Tarifvertrag.",
    ),
    (
        "travel-paid",
        "en",
        "Flights are paid by the employer.",
        "Candidates arrange their own travel; travel costs are not covered.",
    ),
    (
        "travel-paid",
        "fr",
        "Billet d'avion pris en charge par l'employeur.",
        "Le candidat organise son propre voyage.",
    ),
    (
        "travel-paid",
        "es",
        "Billetes de avión pagados por la empresa.",
        "El viaje corre por cuenta del trabajador.",
    ),
    (
        "travel-paid",
        "pt",
        "Viagem paga pela empresa.",
        "A viagem é da responsabilidade do trabalhador.",
    ),
    (
        "travel-paid",
        "ro",
        "Transportul este plătit de angajator.",
        "Transportul se face pe cont propriu.",
    ),
    ("travel-paid", "ru", "Проезд за счет работодателя.", "Проезд за свой счёт."),
    ("travel-paid", "uk", "Проїзд за рахунок роботодавця.", "Проїзд за власний рахунок."),
    ("travel-paid", "de", "Die Anreise wird übernommen.", "Die Anreise erfolgt auf eigene Kosten."),
    (
        "visa-paid",
        "en",
        "We arrange your visa and work permit.",
        "Applicants must already hold a valid visa.",
    ),
    (
        "visa-paid",
        "fr",
        "Nous nous occupons du visa pour vous.",
        "Les candidats doivent avoir un visa valide.",
    ),
    ("visa-paid", "es", "Tramitamos el visado de trabajo.", "Es necesario tener visado en vigor."),
    (
        "visa-paid",
        "pt",
        "Tratamos dos vistos e da documentação.",
        "Os candidatos devem ter visto válido.",
    ),
    ("visa-paid", "ro", "Ne ocupăm de viza de muncă.", "Candidații trebuie să aibă deja viză."),
    ("visa-paid", "ru", "Рабочая виза за счет работодателя.", "Необходима действующая виза."),
    ("visa-paid", "uk", "Оформлюємо робочі візи.", "Потрібна чинна віза."),
    ("visa-paid", "de", "Wir kümmern uns um das Visum.", "Ein gültiges Visum ist Voraussetzung."),
    (
        "housing-paid",
        "en",
        "Free accommodation near the farm.",
        "Accommodation costs are deducted from wages.",
    ),
    ("housing-paid", "fr", "Nourri, logé, blanchi.", "Le logement est à la charge du salarié."),
    (
        "housing-paid",
        "es",
        "Alojamiento gratis junto al invernadero.",
        "El alojamiento lo paga el trabajador.",
    ),
    (
        "housing-paid",
        "pt",
        "Alojamento gratuito para todos.",
        "O alojamento é por conta do trabalhador.",
    ),
    ("housing-paid", "ro", "Cazare gratuită și masă.", "Cazarea se plătește separat."),
    ("housing-paid", "ru", "Жильё бесплатно, рядом с заводом.", "Жильё за свой счёт."),
    ("housing-paid", "uk", "Житло безкоштовно, поруч із заводом.", "Житло за власний рахунок."),
    (
        "housing-paid",
        "de",
        "Kostenlose Unterkunft vorhanden.",
        "Die Unterkunft ist selbst zu zahlen.",
    ),
    (
        "passport-requested",
        "en",
        "Please send us a copy of your passport.",
        "Applicants need a valid passport for travel.",
    ),
    (
        "passport-requested",
        "fr",
        "Envoyez-nous une copie de votre passeport.",
        "Un passeport valide est nécessaire.",
    ),
    (
        "passport-requested",
        "es",
        "Envíanos una foto de tu pasaporte.",
        "Es necesario tener pasaporte vigente.",
    ),
    (
        "passport-requested",
        "pt",
        "Envie uma cópia do seu passaporte.",
        "É necessário ter passaporte válido.",
    ),
    (
        "passport-requested",
        "ro",
        "Trimiteți o poză cu pașaportul.",
        "Este necesar un pașaport valabil.",
    ),
    (
        "passport-requested",
        "ru",
        "Пришлите скан паспорта в Viber.",
        "Необходим действующий паспорт.",
    ),
    ("passport-requested", "uk", "Надішліть копію паспорта.", "Потрібен дійсний паспорт."),
    (
        "passport-requested",
        "de",
        "Bitte schicken Sie uns eine Kopie Ihres Reisepasses.",
        "Ein gültiger Reisepass ist erforderlich.",
    ),
    (
        "vague-employer",
        "en",
        "A leading international company is hiring.",
        "Acme Foods Ltd, an international company, is hiring.",
    ),
    (
        "vague-employer",
        "fr",
        "Entreprise internationale recrute.",
        "Dupont SARL, entreprise internationale, recrute.",
    ),
    (
        "vague-employer",
        "es",
        "Empresa internacional busca personal.",
        "Frutas Sol S.L., empresa internacional, busca personal.",
    ),
    (
        "vague-employer",
        "pt",
        "Empresa internacional recruta.",
        "Frutas Lda, empresa internacional, recruta.",
    ),
    (
        "vague-employer",
        "ro",
        "Firmă serioasă angajează muncitori.",
        "Agro Plus SRL, firmă serioasă, angajează.",
    ),
    (
        "vague-employer",
        "ru",
        "Крупная компания приглашает на работу.",
        "ООО Ромашка, крупная компания, приглашает.",
    ),
    (
        "vague-employer",
        "uk",
        "Міжнародна компанія запрошує на роботу.",
        "ТОВ Вишня, міжнародна компанія, запрошує.",
    ),
    (
        "vague-employer",
        "de",
        "Renommiertes Unternehmen sucht Mitarbeiter.",
        "Müller GmbH, ein renommiertes Unternehmen, sucht.",
    ),
    ("urgency", "en", "Urgent! Start tomorrow.", "Start date: spring, flexible."),
    ("urgency", "fr", "Départ immédiat, places limitées.", "Date de début à convenir."),
    ("urgency", "es", "Incorporación inmediata, plazas limitadas.", "Fecha de inicio a convenir."),
    ("urgency", "pt", "Início imediato, vagas limitadas.", "Data de início a combinar."),
    (
        "urgency",
        "ro",
        "Plecare imediată, locuri limitate.",
        "Data de începere se stabilește ulterior.",
    ),
    ("urgency", "ru", "Срочно! Выезд на этой неделе.", "Дата начала по договорённости."),
    ("urgency", "uk", "Терміново! Виїзд цього тижня.", "Дата початку за домовленістю."),
    ("urgency", "de", "Dringend gesucht!", "Eintritt nach Vereinbarung."),
    (
        "no-experience-needed",
        "en",
        "No experience needed.",
        "At least 3 years of experience required.",
    ),
    (
        "no-experience-needed",
        "fr",
        "Sans expérience, débutants acceptés.",
        "Expérience de 3 ans exigée.",
    ),
    (
        "no-experience-needed",
        "es",
        "No se requiere experiencia.",
        "Se requiere experiencia de 3 años.",
    ),
    (
        "no-experience-needed",
        "pt",
        "Não é necessária experiência.",
        "Experiência mínima de 3 anos.",
    ),
    ("no-experience-needed", "ro", "Nu este necesară experiență.", "Experiență de minimum 3 ani."),
    ("no-experience-needed", "ru", "Опыт работы не нужен.", "Опыт работы от 3 лет."),
    ("no-experience-needed", "uk", "Без досвіду роботи.", "Досвід роботи від 3 років."),
    (
        "no-experience-needed",
        "de",
        "Keine Erfahrung nötig.",
        "Mehrjährige Berufserfahrung erforderlich.",
    ),
    ("no-language-needed", "en", "No English required.", "Fluent English required."),
    ("no-language-needed", "fr", "Sans connaissance de la langue.", "Français courant exigé."),
    ("no-language-needed", "es", "No se necesita idioma.", "Inglés fluido imprescindible."),
    ("no-language-needed", "pt", "Não é necessário saber inglês.", "Inglês fluente obrigatório."),
    (
        "no-language-needed",
        "ro",
        "Nu este necesară limba engleză.",
        "Engleza fluentă este obligatorie.",
    ),
    ("no-language-needed", "ru", "Без знания языка.", "Знание немецкого языка обязательно."),
    ("no-language-needed", "uk", "Без знання мови.", "Знання англійської мови обов'язкове."),
    (
        "no-language-needed",
        "de",
        "Keine Deutschkenntnisse nötig.",
        "Gute Deutschkenntnisse erforderlich.",
    ),
    (
        "age-gender-targeting",
        "en",
        "Girls 18-25 wanted.",
        "We welcome applicants of all ages and genders.",
    ),
    (
        "age-gender-targeting",
        "fr",
        "Jeunes filles de 18 à 25 ans.",
        "Ouvert à tous, femmes et hommes, sans limite d'âge.",
    ),
    (
        "age-gender-targeting",
        "es",
        "Chicas de 18 a 25 años.",
        "Abierto a mujeres y hombres de todas las edades.",
    ),
    (
        "age-gender-targeting",
        "pt",
        "Apenas mulheres, entre 18 e 25 anos.",
        "Aberto a mulheres e homens de todas as idades.",
    ),
    ("age-gender-targeting", "ro", "Fete tinere, 18-25 ani.", "Deschis tuturor, femei și bărbați."),
    (
        "age-gender-targeting",
        "ru",
        "Приглашаем девушек 18-25 лет.",
        "Приглашаем мужчин и женщин любого возраста.",
    ),
    (
        "age-gender-targeting",
        "uk",
        "Запрошуємо дівчат 18-25 років.",
        "Запрошуємо чоловіків і жінок будь-якого віку.",
    ),
    (
        "age-gender-targeting",
        "de",
        "Junge Frauen gesucht.",
        "Wir freuen uns über Bewerbungen von Frauen und Männern.",
    ),
    ("work-abroad", "en", "Work abroad this summer.", "Work from home, no travel."),
    ("work-abroad", "fr", "Travail à l'étranger.", "Travail dans notre entrepôt local."),
    ("work-abroad", "es", "Trabajo en el extranjero.", "Trabajo en nuestro almacén local."),
    ("work-abroad", "pt", "Trabalho no estrangeiro.", "Trabalho no nosso armazém local."),
    ("work-abroad", "ro", "Muncă în străinătate.", "Muncă în depozitul nostru local."),
    ("work-abroad", "ru", "Работа за границей.", "Работа на местном складе."),
    ("work-abroad", "uk", "Робота за кордоном.", "Робота на місцевому складі."),
    ("work-abroad", "de", "Job im Ausland.", "Job in unserem Lager vor Ort."),
    ("cash-in-hand", "en", "Cash in hand every week.", "Cash handling experience preferred."),
    ("cash-in-hand", "fr", "Payé en espèces.", "Paiement par virement bancaire."),
    ("cash-in-hand", "es", "Pago en efectivo cada semana.", "Pago por transferencia bancaria."),
    ("cash-in-hand", "pt", "Pagamento em dinheiro.", "Pagamento por transferência bancária."),
    ("cash-in-hand", "ro", "Plata cash săptămânal.", "Plata prin transfer bancar."),
    ("cash-in-hand", "ru", "Оплата наличными каждую неделю.", "Оплата на банковскую карту."),
    ("cash-in-hand", "uk", "Оплата готівкою щотижня.", "Оплата на банківську картку."),
    ("cash-in-hand", "de", "Lohn in bar jede Woche.", "Lohn per Überweisung."),
    ("no-contract", "en", "No contract needed.", "Permanent employment contract."),
    ("no-contract", "fr", "Travail sans contrat.", "Contrat à durée indéterminée."),
    ("no-contract", "es", "Trabajo sin contrato.", "Contrato indefinido."),
    ("no-contract", "pt", "Trabalho sem contrato.", "Contrato sem termo."),
    ("no-contract", "ro", "Lucru fără contract.", "Contract de muncă pe perioadă nedeterminată."),
    ("no-contract", "ru", "Работа без оформления.", "Официальное трудоустройство по договору."),
    ("no-contract", "uk", "Робота без оформлення.", "Офіційне працевлаштування за договором."),
    ("no-contract", "de", "Arbeit ohne Vertrag.", "Unbefristeter Arbeitsvertrag."),
]

TEXT_RULES = sorted({rule for rule, *_ in EXAMPLES})


def _hits(text: str, contacts: list[Contact] | None = None) -> dict[str, tuple[str, ...]]:
    [hits] = find_indicators([RawAd("a1", text)], [contacts or []])
    return {hit.id: hit.evidence for hit in hits}


@pytest.mark.parametrize(("rule", "language", "positive", "negative"), EXAMPLES)
def test_rule_fires_with_evidence_and_not_on_near_miss(
    rule: str, language: str, positive: str, negative: str
) -> None:
    hits = _hits(positive)
    assert rule in hits, f"{rule}/{language} missed"
    assert hits[rule]
    assert all(word in positive for word in hits[rule])
    assert rule not in _hits(negative), f"{rule}/{language} fired on a near miss"


def test_every_text_rule_has_an_example_in_every_language() -> None:
    covered = {(rule, language) for rule, language, *_ in EXAMPLES}
    missing = [(r, lang) for r in TEXT_RULES for lang in LANGUAGES if (r, lang) not in covered]
    assert missing == []
    catalogued = {rule.id for rule in indicator_catalogue()}
    assert set(TEXT_RULES) | {"messenger-only-contact"} == catalogued


def test_catalogue_ids_unique_and_described() -> None:
    catalogue = indicator_catalogue()
    ids = [rule.id for rule in catalogue]
    assert len(ids) == len(set(ids))
    required = {
        "recruitment-fee",
        "pay-above-norm",
        "travel-paid",
        "visa-paid",
        "housing-paid",
        "passport-requested",
        "messenger-only-contact",
        "vague-employer",
        "urgency",
        "no-experience-needed",
        "no-language-needed",
        "age-gender-targeting",
        "work-abroad",
    }
    assert required <= set(ids)
    for rule in catalogue:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.id)
        assert rule.strength in ("strong", "medium", "weak")
        assert rule.title and rule.description and rule.sources
        assert set(LANGUAGES) <= set(rule.languages)


def test_accents_are_optional() -> None:
    assert "no-experience-needed" in _hits("Fara experienta, plecare imediata")
    hits = _hits("Cazare gratuită")
    assert hits["housing-paid"] == ("Cazare gratuită",)


MESSENGER_ONLY = {
    "en": "Farm work. Write on WhatsApp.",
    "fr": "Travail agricole. Contact par WhatsApp.",
    "es": "Trabajo en el campo. Llama ahora.",
    "pt": "Trabalho agrícola. Ligue já.",
    "ro": "Muncă la fermă. Sunați acum.",
    "ru": "Работа на ферме. Пишите в Вайбер.",
    "uk": "Робота на фермі. Телефонуйте зараз.",
    "de": "Erntehelfer gesucht. Bitte anrufen.",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_messenger_only_contact(language: str) -> None:
    text = MESSENGER_ONLY[language]
    phone = Contact("phone", "+40700000000", "RO")
    hits = _hits(text, [phone])
    assert "messenger-only-contact" in hits
    assert all(word in text for word in hits["messenger-only-contact"])
    # Near misses: an e-mail address among the contacts, or a legal company name.
    assert "messenger-only-contact" not in _hits(
        text, [phone, Contact("email", "jobs@example.org")]
    )
    assert "messenger-only-contact" not in _hits(text + " Agro Plus SRL.", [phone])
    assert "messenger-only-contact" not in _hits(text, [])


def test_work_abroad_from_destination_and_phone_country() -> None:
    text = "Jobs in Germany for strawberry pickers."
    hits = _hits(text, [Contact("phone", "+40700000000", "RO")])
    assert hits["work-abroad"] == ("Germany",)
    assert "work-abroad" not in _hits(text, [Contact("phone", "+4915100000000", "DE")])


def _ad(ad_id: str, text: str, salary: str | None = None) -> RawAd:
    return RawAd(ad_id, text, salary=salary)


def test_pay_above_norm_within_batch() -> None:
    ads = [
        _ad(f"n{i}", "Fruit picking on a farm.", f"{1500 + 50 * i} EUR per month") for i in range(5)
    ]
    ads.append(_ad("high", "Fruit picking on a farm, pay 4200 EUR per month."))
    ads.append(_ad("other-currency", "Fruit picking on a farm.", "9000 lei pe lună"))
    hits = find_indicators(ads, [[] for _ in ads])
    by_id = {
        ad.ad_id: {h.id: h.evidence for h in found} for ad, found in zip(ads, hits, strict=True)
    }
    assert by_id["high"]["pay-above-norm"] == ("4200 EUR",)
    assert all("pay-above-norm" not in by_id[f"n{i}"] for i in range(5))
    # Only one RON ad: no norm, and no too-good phrase either.
    assert "pay-above-norm" not in by_id["other-currency"]


def test_pay_norm_needs_five_comparable_ads() -> None:
    ads = [_ad(f"n{i}", "Fruit picking on a farm.", "1500 EUR per month") for i in range(3)]
    ads.append(_ad("high", "Fruit picking on a farm, pay 4200 EUR per month."))
    hits = find_indicators(ads, [[] for _ in ads])
    assert all(hit.id != "pay-above-norm" for hit in hits[-1])
    # The fallback phrase still works without a norm.
    ads.append(_ad("phrase", "Easy money on a farm: earn 5000 a month, no experience."))
    hits = find_indicators(ads, [[] for _ in ads])
    assert {h.id: h.evidence for h in hits[-1]}["pay-above-norm"] == ("Easy money", "earn 5000")


def test_pay_norm_compares_within_a_sector() -> None:
    farm = [_ad(f"f{i}", "Fruit picking on a farm.", "1500 EUR per month") for i in range(5)]
    it = [
        _ad(f"c{i}", "Building site labourers for construction.", "3200 EUR per month")
        for i in range(4)
    ]
    it.append(_ad("c-high", "Building site labourers for construction.", "3300 EUR per month"))
    ads = farm + it
    hits = find_indicators(ads, [[] for _ in ads])
    assert all(hit.id != "pay-above-norm" for found in hits for hit in found)


@pytest.mark.parametrize(
    ("text", "amount", "currency", "period", "monthly"),
    [
        ("Salary 2.500 EUR per month", 2500, "EUR", "month", 2500),
        ("12,50 €/h", 12.5, "EUR", "hour", 12.5 * 173),
        ("Salariu 1.500 lei pe lună", 1500, "RON", "month", 1500),
        ("Зарплата 60 000 руб в месяц", 60000, "RUB", "month", 60000),
        ("від 30000 грн на місяць", 30000, "UAH", "month", 30000),
        ("£500 per week", 500, "GBP", "week", 500 * 4.33),
        ("1800-2200 EUR netto", 2200, "EUR", "month", 2200),
        ("$45k per year", 45000, "USD", "year", 3750),
        ("80 euros par jour", 80, "EUR", "day", 80 * 21.7),
    ],
)
def test_parse_salary(text: str, amount: float, currency: str, period: str, monthly: float) -> None:
    salary = parse_salary(text)
    assert salary is not None
    assert (salary.amount, salary.currency, salary.period) == (amount, currency, period)
    assert salary.monthly == pytest.approx(monthly)
    assert salary.text in text


def test_parse_salary_none_without_currency() -> None:
    assert parse_salary("Call 0712 345 678, 3 shifts, 40 hours") is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Strawberry harvest, greenhouse work", "A_AgricultureForestryAndFishing"),
        ("Deckhands for a fishing trawler", "A_AgricultureForestryAndFishing"),
        ("Bauhelfer und Maurer für Baustelle", "F_Construction"),
        (
            "Cherchons femme de ménage et nounou, employée de maison",
            "T_ActivitiesOfHouseholdsAsEmployers",
        ),
        ("Camareros y cocineros para hotel", "I_AccommodationAndFoodServiceActivities"),
        ("Operador de produção, linha de montagem, fábrica", "C_Manufacturing"),
        (
            "Îngrijitoare pentru bătrâni, îngrijire vârstnici",
            "Q_HumanHealthAndSocialWorkActivities",
        ),
        ("Уборщица, уборка офисов", "N_AdministrativeAndSupportServiceActivities"),
        ("Танцівниці та хостес у нічний клуб", "R_ArtsEntertainmentAndRecreation"),
        ("Водитель-дальнобойщик, склад", "H_TransportationAndStorage"),
        ("Great opportunity, apply now", None),
    ],
)
def test_detect_sector(text: str, code: str | None) -> None:
    assert detect_sector(RawAd("s", text)) == code


@pytest.mark.parametrize(
    ("text", "location", "code"),
    [
        ("Work on a farm", "DE", "DE"),
        ("Work on a farm", "Berlin, Germany", "DE"),
        ("Работа в Германии, выезд из Молдовы", None, "DE"),
        ("Lucru în Italia, plecare din România", None, "IT"),
        ("Travail en Belgique", None, "BE"),
        ("Trabajo en Alemania", None, "DE"),
        ("Trabalho no Reino Unido", None, "GB"),
        ("Arbeit in der Schweiz", None, "CH"),
        ("Робота в Польщі", None, "PL"),
        ("Jobs in the UK for drivers", None, "GB"),
        ("Ask Jordan about the rota", None, None),
        ("No country here", None, None),
    ],
)
def test_detect_destination(text: str, location: str | None, code: str | None) -> None:
    assert detect_destination(RawAd("d", text, location=location)) == code


def test_batch_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="contact lists"):
        find_indicators([RawAd("a", "x")], [])
