"""Indicator rules benchmark: precision and recall on a labelled set, and speed.

    .venv/bin/python bench/online_rules_bench.py [--ads 100000]

The labelled set below (30 short ads in 8 languages, 66 indicator labels) was written after
the rules and never used to tune them. Precision and recall are micro-averaged over the
indicator labels; each false positive and false negative is printed with the start of its
ad. Then ``find_indicators``, ``detect_sector`` and ``detect_destination`` are timed on
generated short ads.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from tiphub.online.ads import Contact, RawAd
from tiphub.online.indicators import (
    detect_destination,
    detect_sector,
    find_indicators,
    indicator_catalogue,
)

# fmt: off
P = Contact("phone", "+40700000000", "RO")
E = Contact("email", "hr@example.org")
LABELLED = [
 ("We are hiring seasonal workers for apple picking in the Netherlands. Transport and accommodation are provided. Applicants pay a 150 EUR administration fee. Contact via Viber.", [P], {"recruitment-fee","travel-paid","housing-paid","messenger-only-contact","work-abroad"}),
 ("Looking for pretty young ladies to work as hostesses in Dubai. Earn up to 8000 USD monthly. Flight tickets provided. Send a photo of your passport on WhatsApp.", [P], {"age-gender-targeting","pay-above-norm","travel-paid","passport-requested","messenger-only-contact","work-abroad"}),
 ("Warehouse operative, Leeds. £11.44 per hour, permanent contract, apply via our careers page. Smith Logistics Ltd.", [E], set()),
 ("Nurse for a private clinic, English B2 required, salary per collective agreement. Apply at jobs@clinic.example.", [E], set()),
 ("URGENT!!! Builders needed for a large construction company abroad. No experience, no English. Housing free. Call now.", [P], {"urgency","vague-employer","work-abroad","no-experience-needed","no-language-needed","housing-paid","messenger-only-contact"}),
 ("Offre d'emploi : serveuse pour restaurant à Lyon. CDI, 35h, salaire selon convention. Envoyez votre CV à rh@example.fr.", [E], set()),
 ("Société internationale recrute jeunes femmes pour travail de danseuse au Liban. Hébergement gratuit, visa pris en charge, départ immédiat.", [P], {"vague-employer","age-gender-targeting","housing-paid","visa-paid","urgency","work-abroad"}),
 ("Se buscan chicas jóvenes y guapas para trabajar de modelo en el extranjero. Viaje pagado. Fianza de 300 euros.", [P], {"age-gender-targeting","work-abroad","travel-paid","recruitment-fee"}),
 ("Empresa de limpieza en Madrid busca limpiadora con experiencia. Contrato indefinido, 1.200 euros al mes.", [E], set()),
 ("Procuramos trabalhadores para a apanha da fruta em Inglaterra. Alojamento grátis, viagem paga, sem experiência.", [P], {"housing-paid","travel-paid","no-experience-needed"}),
 ("Recrutamos enfermeiros para hospital em Lisboa. Requisitos: cédula profissional, experiência de 2 anos.", [E], set()),
 ("Angajăm muncitori necalificați pentru fabrică în Germania. Cazare asigurată, transport asigurat, fără experiență, nu este necesară limba germană. Sunați pe WhatsApp.", [P], {"housing-paid","travel-paid","no-experience-needed","no-language-needed","messenger-only-contact"}),
 ("Oferim loc de muncă în Cluj, contract pe perioadă nedeterminată, bonuri de masă. Trimiteți CV-ul pe e-mail.", [E], set()),
 ("Работа за границей для девушек 18-27 лет. Высокий доход, жильё предоставляем, оформляем визу. Пишите в Telegram.", [P], {"work-abroad","age-gender-targeting","pay-above-norm","visa-paid","messenger-only-contact"}),
 ("Требуется бухгалтер в офис в Москве. Опыт от 3 лет, официальное трудоустройство. Резюме на почту.", [E], set()),
 ("Срочно требуются разнорабочие на стройку в Польше. Оплата наличными каждую неделю, без опыта.", [P], {"urgency","cash-in-hand","no-experience-needed"}),
 ("Робота в Чехії на заводі. Житло безкоштовне, проїзд оплачується, досвід не потрібен. Терміново!", [P], {"housing-paid","travel-paid","no-experience-needed","urgency"}),
 ("Шукаємо програміста в київський офіс. Досвід від 2 років. Резюме надсилайте на пошту.", [E], set()),
 ("Erntehelfer für Spargel gesucht. Unterkunft wird gestellt, keine Deutschkenntnisse nötig, Bezahlung bar auf die Hand.", [P], {"housing-paid","no-language-needed","cash-in-hand"}),
 ("Wir suchen eine Pflegefachkraft (m/w/d) in Vollzeit, unbefristeter Vertrag, Bewerbung an karriere@example.de.", [E], set()),
 ("Hotel receptionist in Malta, fluent English, competitive salary, apply at jobs@hotel.example", [E], set()),
 ("Girls only, 18 to 24, for massage salon work in Cyprus. Big money, we pay the flight. Deposit required.", [P], {"age-gender-targeting","pay-above-norm","travel-paid","recruitment-fee"}),
 ("Care assistants wanted, UK. Visa sponsorship available for qualified candidates; no fees charged to workers.", [E], set()),
 ("Forklift driver for our depot. Immediate start, weekly pay, contract provided.", [E], {"urgency"}),
 ("Looking for a nanny for two kids; live-in, room and board provided, days off on weekends.", [E], {"housing-paid"}),
 ("Conducteur poids lourd pour transport international, salaire attractif, permis C obligatoire.", [E], {"pay-above-norm"}),
 ("Trabajo sin contrato en la cosecha, pago en mano, sin papeles.", [P], {"no-contract","cash-in-hand"}),
 ("Praca w Niemczech? Zapraszamy kobiety i mężczyzn.", [E], set()),
 ("Cleaners needed for offices in Oslo. Pay 25 EUR per hour. Send your ID card by text message to confirm.", [P], {"passport-requested","messenger-only-contact"}),
 ("Trabalho para moças bonitas em bar no estrangeiro. Ganhe 6000 por mês.", [P], {"age-gender-targeting","work-abroad","pay-above-norm","messenger-only-contact"}),
]
# fmt: on
PARTS = (
    "Farm work in Spain, free accommodation.",
    "Salary 1500 EUR per month.",
    "Call on WhatsApp.",
    "No experience needed.",
    "Работа в Германии, жильё бесплатно.",
    "Lucru în Italia, cazare asigurată.",
    "Bauhelfer gesucht, Lohn 14 € pro Stunde.",
    "Empresa internacional busca camareras.",
    "Registration fee 200 EUR.",
    "Apply with CV to hr@example.org.",
    "Urgent start.",
    "Girls 18-25 for hostess work.",
    "Contrat à durée indéterminée, salaire 1 900 € par mois.",
    "Send a copy of your passport.",
)


def labelled_accuracy() -> None:
    ads = [RawAd(str(i), text) for i, (text, _c, _g) in enumerate(LABELLED)]
    found = find_indicators(ads, [contacts for _t, contacts, _g in LABELLED])
    hits, false_hits, missed = Counter[str](), Counter[str](), Counter[str]()
    for (text, _contacts, gold), ad_hits in zip(LABELLED, found, strict=True):
        got = {hit.id for hit in ad_hits}
        hits.update(got & gold)
        for rule in sorted(got - gold):
            false_hits[rule] += 1
            print(f"  false positive {rule:24s} {text[:60]}")
        for rule in sorted(gold - got):
            missed[rule] += 1
            print(f"  missed         {rule:24s} {text[:60]}")
    true, false, lost = sum(hits.values()), sum(false_hits.values()), sum(missed.values())
    print(
        f"labelled set: {len(LABELLED)} ads, {true + lost} labels: precision "
        f"{true / (true + false):.2f}, recall {true / (true + lost):.2f}"
    )
    for rule in (rule.id for rule in indicator_catalogue()):
        if hits[rule] + false_hits[rule] + missed[rule]:
            print(
                f"  {rule:24s} hits {hits[rule]}  false {false_hits[rule]}  missed {missed[rule]}"
            )


def speed(count: int) -> None:
    rng = random.Random(7)
    ads = [RawAd(str(i), " ".join(rng.sample(PARTS, 4))) for i in range(count)]
    contacts = [[P] if i % 2 else [] for i in range(count)]
    find_indicators(ads[:10], contacts[:10])
    started = time.perf_counter()
    find_indicators(ads, contacts)
    rules_s = time.perf_counter() - started
    started = time.perf_counter()
    for ad in ads:
        detect_sector(ad)
        detect_destination(ad)
    detect_s = time.perf_counter() - started
    print(
        f"{count:,} ads of about {sum(len(ad.text) for ad in ads) // count} characters: rules "
        f"{rules_s:.1f} s ({count / rules_s:,.0f} ads/s); sector and destination {detect_s:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ads", type=int, default=100_000)
    arguments = parser.parse_args()
    labelled_accuracy()
    speed(arguments.ads)


if __name__ == "__main__":
    main()
