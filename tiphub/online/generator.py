"""Synthetic job ads with known templates, for testing and benchmarking template clustering.

A *network* (a fictional recruiter) posts ads from one to three *templates*: fixed sentences
with slots that change from ad to ad (names, cities, countries, pay, dates, jobs, contacts).
Some networks publish a template in a second language too; each language version counts as
its own template (the words differ), under the same network. Ads are perturbed by noise
(typos, two sentences swapped, a sentence dropped or added) and mixed with unrelated
*background* ads written from a large vocabulary of made-up words plus common job words, so
that two background ads share a five-word phrase only by rare accident.

Every contact is fictional: phones in the UK drama range (+44 7700 900xxx) and the North
American 555-01xx range, e-mail addresses at example.com and .test domains, invented
messenger handles. Output is deterministic for a seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tiphub.online.ads import RawAd

LANGUAGES = ("en", "fr", "es", "ro", "ru")
ROLES = ("intro", "job", "pay", "benefits", "requirements", "contact")

# Sentence frames per language and role. "{a|b|c}" is a choice made once per template (so
# each template has its own wording); "{job}", "{city}"... are slots filled per ad. Frames
# and choices line up across languages, so a template can be translated.
_FRAMES: dict[str, dict[str, list[str]]] = {
    "en": {
        "intro": [
            "{We are|Our agency is|Company} {urgently|now|again} {hiring|recruiting|looking for} {staff|workers|people} for {job} {jobs|positions|vacancies} in {city}, {country}.",
            "{Great|Excellent|Rare} {opportunity|chance|offer} {to work|for work|of work} abroad with {agency} in {city}.",
            "{agency} {offers|has|provides} {stable|well paid|legal} work in {country} {starting|from|beginning} {date}.",
        ],
        "job": [
            "{Work|The job|The position} is {simple|easy|light}, {no experience|no language|no diploma} {needed|required|asked}.",
            "You will work as {job} {in a friendly team|for a big company|in a modern hotel}.",
            "{Full time|Shifts of twelve hours|Day and night shifts}, {six|five|seven} days a {week|week only|week guaranteed}.",
        ],
        "pay": [
            "Salary {pay} {per month|a month|monthly}, {paid weekly|cash in hand|plus bonuses}.",
            "You {can earn|will earn|earn} up to {pay} {per month|net per month|every month}.",
            "{Pay|Wage|Income} from {pay}, {advance on arrival|first payment after two weeks|overtime paid extra}.",
        ],
        "benefits": [
            "{Travel|Tickets|Transport} and {accommodation|housing|lodging} {paid by the employer|are free|are arranged for you}.",
            "We {arrange|handle|take care of} {visa|documents|work permit} {for you|quickly|at no cost}.",
            "{Free|Shared|Comfortable} {accommodation|flat|room} {near the workplace|close to work|in the city centre}.",
        ],
        "requirements": [
            "{Age|Ages|Candidates aged} {18|20|21} to {35|40|45}, {good health|no criminal record|ready to travel}.",
            "{Bring|Send|Show} {your passport|a copy of your passport|a recent photo} {to apply|when you apply|with your application}.",
            "{Registration|Processing|Placement} fee {is required|must be paid|is due} before {departure|travel|the contract}.",
        ],
        "contact": [
            "{Call|Write to|Contact} {name} {on|at|via} {contact} {today|now|for details}.",
            "{Send|Write} {a message|your CV|your details} to {contact}, ask for {name}.",
            "{More information|Details|Interview} {at|via|on} {contact}, start {date}.",
        ],
    },
    "fr": {
        "intro": [
            "{Nous recrutons|Notre agence recrute|Entreprise recrute} {en urgence|maintenant|encore} {du personnel|des travailleurs|des gens} pour {job} à {city}, {country}.",
            "{Grande|Excellente|Rare} {opportunité|chance|offre} de travail à l'étranger avec {agency} à {city}.",
            "{agency} {offre|propose|garantit} un travail {stable|bien payé|légal} en {country} {dès le|à partir du|début} {date}.",
        ],
        "job": [
            "{Le travail|Le poste|La mission} est {simple|facile|léger}, {sans expérience|sans langue|sans diplôme} {exigée|demandée|requise}.",
            "Vous travaillerez comme {job} {dans une équipe sympathique|pour une grande entreprise|dans un hôtel moderne}.",
            "{Temps plein|Postes de douze heures|Postes de jour et de nuit}, {six|cinq|sept} jours par {semaine|semaine seulement|semaine garantis}.",
        ],
        "pay": [
            "Salaire {pay} {par mois|mensuel|chaque mois}, {payé chaque semaine|en espèces|plus primes}.",
            "Vous {pouvez gagner|allez gagner|gagnez} jusqu'à {pay} {par mois|net par mois|chaque mois}.",
            "{Paie|Salaire|Revenu} à partir de {pay}, {avance à l'arrivée|premier paiement après deux semaines|heures supplémentaires payées}.",
        ],
        "benefits": [
            "{Voyage|Billets|Transport} et {logement|hébergement|chambre} {payés par l'employeur|gratuits|organisés pour vous}.",
            "Nous {organisons|gérons|prenons en charge} {le visa|les documents|le permis de travail} {pour vous|rapidement|sans frais}.",
            "{Logement gratuit|Appartement partagé|Chambre confortable} {près du travail|à côté du lieu de travail|au centre ville}.",
        ],
        "requirements": [
            "{Âge|Âges|Candidats âgés} de {18|20|21} à {35|40|45} ans, {bonne santé|casier judiciaire vierge|prêt à voyager}.",
            "{Apportez|Envoyez|Montrez} {votre passeport|une copie du passeport|une photo récente} {pour postuler|avec la candidature|au rendez vous}.",
            "Des frais {d'inscription|de dossier|de placement} {sont demandés|doivent être payés|sont dus} avant {le départ|le voyage|le contrat}.",
        ],
        "contact": [
            "{Appelez|Écrivez à|Contactez} {name} au {contact} {aujourd'hui|maintenant|pour les détails}.",
            "{Envoyez|Écrivez} {un message|votre CV|vos coordonnées} à {contact}, demandez {name}.",
            "{Plus d'informations|Détails|Entretien} au {contact}, début {date}.",
        ],
    },
    "es": {
        "intro": [
            "{Buscamos|Nuestra agencia busca|Empresa contrata} {urgentemente|ahora|de nuevo} {personal|trabajadores|gente} para {job} en {city}, {country}.",
            "{Gran|Excelente|Rara} {oportunidad|ocasión|oferta} de trabajo en el extranjero con {agency} en {city}.",
            "{agency} {ofrece|tiene|garantiza} trabajo {estable|bien pagado|legal} en {country} {desde el|a partir del|a inicios del} {date}.",
        ],
        "job": [
            "{El trabajo|El puesto|La tarea} es {sencillo|fácil|ligero}, {sin experiencia|sin idioma|sin título} {necesaria|requerida|exigida}.",
            "Trabajará como {job} {en un equipo agradable|para una gran empresa|en un hotel moderno}.",
            "{Jornada completa|Turnos de doce horas|Turnos de día y de noche}, {seis|cinco|siete} días a la {semana|semana solamente|semana garantizados}.",
        ],
        "pay": [
            "Sueldo {pay} {al mes|mensual|cada mes}, {pagado cada semana|en efectivo|más bonos}.",
            "Usted {puede ganar|va a ganar|gana} hasta {pay} {al mes|netos al mes|cada mes}.",
            "{Pago|Salario|Ingreso} desde {pay}, {adelanto a la llegada|primer pago a las dos semanas|horas extra pagadas}.",
        ],
        "benefits": [
            "{Viaje|Billetes|Transporte} y {alojamiento|vivienda|habitación} {pagados por el empleador|gratis|organizados para usted}.",
            "Nosotros {tramitamos|gestionamos|nos ocupamos de} {el visado|los documentos|el permiso de trabajo} {para usted|rápidamente|sin coste}.",
            "{Alojamiento gratis|Piso compartido|Habitación cómoda} {cerca del trabajo|junto al lugar de trabajo|en el centro}.",
        ],
        "requirements": [
            "{Edad|Edades|Candidatos de} {18|20|21} a {35|40|45} años, {buena salud|sin antecedentes|listos para viajar}.",
            "{Traiga|Envíe|Muestre} {su pasaporte|una copia del pasaporte|una foto reciente} {para aplicar|con la solicitud|en la entrevista}.",
            "Una cuota de {inscripción|trámite|colocación} {es obligatoria|debe pagarse|se paga} antes {del viaje|de la salida|del contrato}.",
        ],
        "contact": [
            "{Llame|Escriba|Contacte} a {name} al {contact} {hoy|ahora|para detalles}.",
            "{Envíe|Escriba} {un mensaje|su CV|sus datos} a {contact}, pregunte por {name}.",
            "{Más información|Detalles|Entrevista} en {contact}, inicio {date}.",
        ],
    },
    "ro": {
        "intro": [
            "{Angajăm|Agenția noastră angajează|Firma angajează} {urgent|acum|din nou} {personal|muncitori|oameni} pentru {job} în {city}, {country}.",
            "{Mare|Excelentă|Rară} {oportunitate|ocazie|ofertă} de muncă în străinătate cu {agency} în {city}.",
            "{agency} {oferă|are|garantează} muncă {stabilă|bine plătită|legală} în {country} {începând cu|din|de la} {date}.",
        ],
        "job": [
            "{Munca|Postul|Lucrul} este {simplu|ușor|lejer}, {fără experiență|fără limbă străină|fără diplomă} {necesară|cerută|obligatorie}.",
            "Veți lucra ca {job} {într-o echipă prietenoasă|pentru o firmă mare|într-un hotel modern}.",
            "{Normă întreagă|Ture de douăsprezece ore|Ture de zi și de noapte}, {șase|cinci|șapte} zile pe {săptămână|săptămână doar|săptămână garantat}.",
        ],
        "pay": [
            "Salariu {pay} {pe lună|lunar|în fiecare lună}, {plătit săptămânal|cash în mână|plus bonusuri}.",
            "{Puteți câștiga|Veți câștiga|Câștigați} până la {pay} {pe lună|net pe lună|în fiecare lună}.",
            "{Plata|Salariul|Venitul} de la {pay}, {avans la sosire|prima plată după două săptămâni|orele suplimentare plătite}.",
        ],
        "benefits": [
            "{Drumul|Biletele|Transportul} și {cazarea|locuința|camera} {plătite de angajator|gratuite|asigurate pentru voi}.",
            "Ne {ocupăm de|facem|rezolvăm} {viza|actele|permisul de muncă} {pentru voi|rapid|fără cost}.",
            "{Cazare gratuită|Apartament comun|Cameră confortabilă} {lângă locul de muncă|aproape de muncă|în centrul orașului}.",
        ],
        "requirements": [
            "{Vârsta|Vârste|Candidați cu vârsta} între {18|20|21} și {35|40|45} ani, {sănătate bună|fără cazier|gata de plecare}.",
            "{Aduceți|Trimiteți|Arătați} {pașaportul|o copie a pașaportului|o poză recentă} {pentru aplicare|cu cererea|la interviu}.",
            "Taxa de {înscriere|dosar|plasare} {este obligatorie|se plătește|trebuie achitată} înainte de {plecare|călătorie|contract}.",
        ],
        "contact": [
            "{Sunați|Scrieți|Contactați} pe {name} la {contact} {azi|acum|pentru detalii}.",
            "{Trimiteți|Scrieți} {un mesaj|CV-ul|datele voastre} la {contact}, întrebați de {name}.",
            "{Mai multe informații|Detalii|Interviu} la {contact}, începere {date}.",
        ],
    },
    "ru": {
        "intro": [
            "{Мы набираем|Наше агентство набирает|Компания набирает} {срочно|сейчас|снова} {персонал|работников|людей} на {job} в {city}, {country}.",
            "{Отличная|Прекрасная|Редкая} {возможность|вакансия|предложение} работы за границей с {agency} в {city}.",
            "{agency} {предлагает|даёт|гарантирует} {стабильную|хорошо оплачиваемую|легальную} работу в {country} {начиная с|с|от} {date}.",
        ],
        "job": [
            "{Работа|Должность|Задача} {простая|лёгкая|несложная}, {опыт|язык|диплом} не {нужен|требуется|обязателен}.",
            "Вы будете работать как {job} {в дружной команде|в большой компании|в современном отеле}.",
            "{Полный день|Смены по двенадцать часов|Дневные и ночные смены}, {шесть|пять|семь} дней в {неделю|неделю только|неделю гарантированно}.",
        ],
        "pay": [
            "Зарплата {pay} {в месяц|ежемесячно|каждый месяц}, {выплата каждую неделю|наличными|плюс бонусы}.",
            "Вы {можете заработать|заработаете|зарабатываете} до {pay} {в месяц|чистыми в месяц|каждый месяц}.",
            "{Оплата|Заработок|Доход} от {pay}, {аванс по приезду|первая выплата через две недели|сверхурочные оплачиваются}.",
        ],
        "benefits": [
            "{Дорога|Билеты|Проезд} и {проживание|жильё|комната} {за счёт работодателя|бесплатно|организованы для вас}.",
            "Мы {оформим|сделаем|берём на себя} {визу|документы|разрешение на работу} {для вас|быстро|бесплатно}.",
            "{Бесплатное жильё|Общая квартира|Удобная комната} {рядом с работой|недалеко от работы|в центре города}.",
        ],
        "requirements": [
            "{Возраст|Возраст кандидатов|Кандидаты в возрасте} от {18|20|21} до {35|40|45} лет, {хорошее здоровье|без судимости|готовность к переезду}.",
            "{Принесите|Пришлите|Покажите} {паспорт|копию паспорта|свежее фото} {для отклика|с анкетой|на собеседование}.",
            "{Регистрационный|Оформительский|Агентский} сбор {обязателен|оплачивается|нужно внести} до {отъезда|поездки|договора}.",
        ],
        "contact": [
            "{Звоните|Пишите|Обращайтесь} {name} по {contact} {сегодня|сейчас|за подробностями}.",
            "{Отправьте|Напишите} {сообщение|резюме|свои данные} на {contact}, спросите {name}.",
            "{Подробности|Детали|Собеседование} по {contact}, начало {date}.",
        ],
    },
}

_NAMES = {
    "en": ("Anna", "Mark", "Julia", "David", "Sarah", "Tom", "Emily", "James", "Kate", "Peter"),
    "fr": ("Claire", "Julien", "Sophie", "Luc", "Camille", "Hugo", "Léa", "Marc", "Chloé", "Paul"),
    "es": ("Lucía", "Carlos", "María", "Javier", "Elena", "Pablo", "Sara", "Diego", "Ana", "Luis"),
    "ro": ("Ioana", "Andrei", "Elena", "Mihai", "Ana", "Vlad", "Maria", "Radu", "Irina", "Dan"),
    "ru": ("Анна", "Олег", "Мария", "Иван", "Елена", "Сергей", "Ольга", "Дмитрий", "Наталья", "Павел"),
}
_CITIES = {
    "en": ("London", "Dublin", "Berlin", "Warsaw", "Dubai", "Milan", "Oslo", "Prague", "Vienna", "Madrid"),
    "fr": ("Paris", "Lyon", "Bruxelles", "Genève", "Marseille", "Berlin", "Dubaï", "Milan", "Lille", "Nice"),
    "es": ("Madrid", "Sevilla", "Valencia", "Lisboa", "Berlín", "Dubái", "Milán", "Bilbao", "Málaga", "Roma"),
    "ro": ("București", "Cluj", "Iași", "Berlin", "Londra", "Milano", "Dubai", "Viena", "Madrid", "Praga"),
    "ru": ("Москва", "Дубай", "Берлин", "Варшава", "Прага", "Милан", "Вена", "Стамбул", "Рига", "Минск"),
}
_COUNTRIES = {
    "en": ("Germany", "Poland", "the UK", "Italy", "Spain", "Norway", "the UAE", "Czechia", "Austria", "Ireland"),
    "fr": ("Allemagne", "Pologne", "Italie", "Espagne", "Belgique", "Suisse", "Norvège", "Autriche", "Irlande", "Grèce"),
    "es": ("Alemania", "Polonia", "Italia", "Portugal", "Francia", "Noruega", "Austria", "Irlanda", "Grecia", "Suiza"),
    "ro": ("Germania", "Polonia", "Italia", "Spania", "Anglia", "Norvegia", "Austria", "Irlanda", "Grecia", "Olanda"),
    "ru": ("Германии", "Польше", "Италии", "Испании", "Чехии", "Турции", "Австрии", "Израиле", "Греции", "Литве"),
}
_JOBS = {
    "en": ("waitress", "farm worker", "cleaner", "driver", "warehouse worker", "nanny", "cook", "dancer", "model", "builder"),
    "fr": ("serveuse", "ouvrier agricole", "femme de ménage", "chauffeur", "magasinier", "nounou", "cuisinier", "danseuse", "mannequin", "maçon"),
    "es": ("camarera", "jornalero", "limpiadora", "conductor", "mozo de almacén", "niñera", "cocinero", "bailarina", "modelo", "albañil"),
    "ro": ("ospătăriță", "muncitor agricol", "femeie de serviciu", "șofer", "lucrător depozit", "bonă", "bucătar", "dansatoare", "model", "zidar"),
    "ru": ("официантка", "сборщик урожая", "уборщица", "водитель", "складской рабочий", "няня", "повар", "танцовщица", "модель", "строитель"),
}
_CURRENCIES = ("EUR", "GBP", "USD", "€", "£", "$", "lei", "руб")
_AGENCY_WORDS = ("Staffing", "Recruitment", "Group", "Partners", "Jobs", "Consulting", "Travel", "Services")

# Words any job ad uses, so that background ads are not trivially unlike templated ones.
_COMMON = {
    "en": "work job salary experience apply team hours contract company position staff new good full time",
    "fr": "travail emploi salaire expérience postuler équipe heures contrat entreprise poste personnel",
    "es": "trabajo empleo sueldo experiencia aplicar equipo horas contrato empresa puesto personal",
    "ro": "muncă loc salariu experiență aplică echipă ore contract firmă post personal",
    "ru": "работа вакансия зарплата опыт отклик команда часы договор компания должность персонал",
}
_SYLLABLES = ["ka", "lo", "mi", "ne", "sa", "tu", "ri", "po", "de", "va", "ble", "stra", "mon", "gel", "fi", "zo", "ru", "an", "el", "or", "in", "ta", "be", "co"]

_CHOICE = re.compile(r"\{([^{}]*\|[^{}]*)\}")
_SLOT = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class AdTruth:
    """Which template and network an ad truly came from; None for a background ad."""

    ad_id: str
    template_id: str | None
    network_id: str | None
    language: str


@dataclass
class GeneratedAds:
    """Generated ads with their ground truth, in the same order."""

    ads: list[RawAd] = field(default_factory=list)
    truth: list[AdTruth] = field(default_factory=list)
    # template id -> the template's text with its slots, as written before filling
    templates: dict[str, str] = field(default_factory=dict)

    def template_of(self) -> dict[str, str | None]:
        """ad_id -> true template id."""
        return {item.ad_id: item.template_id for item in self.truth}


@dataclass(frozen=True)
class _Template:
    id: str
    network: str
    language: str
    sentences: tuple[str, ...]  # with {slot} markers
    title: str
    currency: str


@dataclass(frozen=True)
class _Network:
    id: str
    contacts: tuple[str, ...]
    agency: str


@dataclass(frozen=True)
class TemplateScores:
    """How well predicted clusters recover the true templates (see :func:`score_clusters`)."""

    template_recall: float
    cluster_precision: float
    true_templates: int
    predicted_clusters: int
    clustered_ads: int


def score_clusters(
    predicted: Iterable[Sequence[str]], truth: dict[str, str | None]
) -> TemplateScores:
    """Score predicted clusters (each a list of ad ids) against true template ids.

    *Template recall*: among true templates with at least two ads, the share for which one
    predicted cluster holds at least 80% of the template's ads. *Cluster precision*: among ads
    placed in a predicted cluster, the share whose true template is the cluster's majority
    true template; a background ad (template None) placed in a cluster always counts as an
    error, and a cluster made mostly of background ads has no correct members. With no ad
    clustered, precision is 1.0 (nothing was claimed). The two measures pull against each
    other: merging templates keeps recall but costs precision, splitting one costs recall.
    """
    clusters = [list(members) for members in predicted]
    template_sizes = Counter(template for template in truth.values() if template is not None)
    best_share: dict[str, int] = defaultdict(int)
    correct = 0
    clustered = 0
    for members in clusters:
        labels = Counter(truth.get(ad_id) for ad_id in members)
        for template, count in labels.items():
            if template is not None:
                best_share[template] = max(best_share[template], count)
        real = [(count, template) for template, count in labels.items() if template is not None]
        clustered += len(members)
        if real:
            # Ties break on the template id so that the score does not depend on order.
            majority_count, _ = max(real, key=lambda pair: (pair[0], pair[1]))
            background = labels.get(None, 0)
            if majority_count >= background:
                correct += majority_count
    eligible = [template for template, size in template_sizes.items() if size >= 2]
    recalled = sum(1 for template in eligible if best_share[template] >= 0.8 * template_sizes[template])
    return TemplateScores(
        template_recall=recalled / len(eligible) if eligible else 1.0,
        cluster_precision=correct / clustered if clustered else 1.0,
        true_templates=len(eligible),
        predicted_clusters=len(clusters),
        clustered_ads=clustered,
    )


def _pick_choices(frame: str, picks: list[int]) -> str:
    """Resolve every "{a|b|c}" with the given option indices (re-used when translating)."""
    position = 0

    def choose(match: re.Match[str]) -> str:
        nonlocal position
        options = match.group(1).split("|")
        chosen = options[picks[position] % len(options)]
        position += 1
        return chosen

    return _CHOICE.sub(choose, frame)


def _pseudo_word(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))


_AREA_CODES = ("202", "212", "305", "312", "415", "503", "602", "617", "646", "702", "713", "808")


def _phone(rng: random.Random, used: set[str]) -> str | None:
    """A fictional phone number not used yet, or None when the fictional ranges run out."""
    for _ in range(50):
        if rng.random() < 0.5:
            number = f"+44 7700 900{rng.randint(0, 999):03d}"
        else:
            number = f"+1 {rng.choice(_AREA_CODES)} 555 01{rng.randint(0, 99):02d}"
        if number not in used:
            used.add(number)
            return number
    return None


def _contact(rng: random.Random, used: set[str], agency: str) -> str:
    kind = rng.random()
    phone = _phone(rng, used) if kind < 0.5 else None
    if phone is not None:
        return phone
    while True:
        stem = re.sub(r"\W", "", agency.lower())[:12] + str(rng.randint(1, 99999))
        if kind < 0.75:
            value = f"{stem}@{rng.choice(('example.com', 'example.org', 'jobs.test', 'mail.test'))}"
        else:
            value = f"@{stem}_jobs (Telegram)"
        if value not in used:
            used.add(value)
            return value


def _make_template(
    rng: random.Random, template_id: str, network: _Network, language: str,
    frames: list[tuple[str, int, list[int]]], currency: str, slogan: str,
) -> _Template:
    sentences = [
        _pick_choices(_FRAMES[language][role][index % len(_FRAMES[language][role])], picks)
        for role, index, picks in frames
    ]
    # A network's own turn of phrase (a made-up brand slogan, kept in translation): real
    # templates differ in more than the few sentence frames this generator knows.
    sentences.insert(1 + len(slogan) % (len(sentences) - 1), slogan)
    title_job = "{job}"
    title = f"{title_job} – {{city}}" if rng.random() < 0.5 else f"{network.agency}: {title_job}"
    return _Template(template_id, network.id, language, tuple(sentences), title, currency)


def _fill(
    rng: random.Random, text: str, template: _Template, network: _Network, slots: dict[str, str]
) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "agency":
            return network.agency
        return slots[name]

    return _SLOT.sub(value, text)


def _typo(rng: random.Random, sentence: str) -> str:
    words = sentence.split(" ")
    candidates = [i for i, word in enumerate(words) if len(word) > 4 and word.isalpha()]
    if not candidates:
        return sentence
    index = rng.choice(candidates)
    word = words[index]
    at = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5:
        word = word[:at] + word[at + 1 :]  # a letter dropped
    else:
        word = word[:at] + word[at + 1] + word[at] + word[at + 2 :]  # two letters swapped
    words[index] = word
    return " ".join(words)


def _background_sentence(rng: random.Random, vocabulary: list[str], common: list[str]) -> str:
    words = []
    for _ in range(rng.randint(6, 12)):
        if rng.random() < 0.3:
            words.append(rng.choice(common))
        else:
            # Skewed towards the first words, yet flat enough that 5-word repeats stay rare.
            words.append(vocabulary[int(len(vocabulary) * rng.random() ** 2)])
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def generate_ads(
    n_ads: int,
    *,
    seed: int,
    template_share: float = 0.5,
    n_networks: int | None = None,
    languages: Sequence[str] = ("en", "fr", "es", "ro", "ru"),
    noise: float = 0.3,
    ads_per_template: int = 40,
    translated_share: float = 0.3,
) -> GeneratedAds:
    """Generate ``n_ads`` ads, about ``template_share`` of them from network templates.

    ``n_networks`` defaults to one network per ~80 templated ads; each has one to three
    templates, and with probability ``translated_share`` one of them is also published in a
    second language. Template sizes vary (about ``ads_per_template`` on average, at least
    two). ``noise`` is the chance that a templated ad gets one perturbation: a typo, two
    sentences swapped, a sentence dropped, or a background sentence added.
    """
    unknown = [language for language in languages if language not in _FRAMES]
    if unknown or not languages:
        raise ValueError("languages must be chosen from " + ", ".join(LANGUAGES))
    rng = random.Random(seed)
    n_templated = round(n_ads * template_share) if n_ads >= 2 else 0
    n_background = n_ads - n_templated
    if n_networks is None:
        n_networks = max(1, n_templated // (2 * ads_per_template))
    used_contacts: set[str] = set()
    networks: list[_Network] = []
    templates: list[_Template] = []
    for network_index in range(n_networks):
        agency = f"{_pseudo_word(rng).capitalize()} {rng.choice(_AGENCY_WORDS)}"
        network = _Network(
            f"n{network_index:05d}",
            tuple(_contact(rng, used_contacts, agency) for _ in range(rng.randint(1, 3))),
            agency,
        )
        networks.append(network)
        for _ in range(rng.randint(1, 3)):
            language = rng.choice(list(languages))
            roles = ["intro", *rng.sample(ROLES[1:5], rng.randint(2, 4)), "contact"]
            frames = [(role, rng.randrange(3), [rng.randrange(3) for _ in range(8)]) for role in roles]
            currency = rng.choice(_CURRENCIES)
            slogan = f"{network.agency}: {' '.join(_pseudo_word(rng) for _ in range(3))}!"
            base = f"t{len(templates):05d}"
            templates.append(_make_template(rng, f"{base}-{language}", network, language, frames, currency, slogan))
            if len(languages) > 1 and rng.random() < translated_share:
                other = rng.choice([item for item in languages if item != language])
                templates.append(_make_template(rng, f"{base}-{other}", network, other, frames, currency, slogan))
    if not templates or n_templated < 2:
        n_templated = 0
        n_background = n_ads
    # Template sizes: random weights, every template at least two ads while there is room.
    weights = [rng.expovariate(1.0) for _ in templates]
    order: list[int] = []
    for index in range(len(templates)):
        if len(order) + 2 <= n_templated:
            order += [index, index]
    if len(order) < n_templated:
        order += rng.choices(range(len(templates)), weights=weights, k=n_templated - len(order))
    kinds: list[int | None] = [*order, *([None] * n_background)]
    rng.shuffle(kinds)

    vocabulary = sorted({_pseudo_word(rng) for _ in range(6000)})
    rng.shuffle(vocabulary)
    network_by_id = {network.id: network for network in networks}
    generated = GeneratedAds()
    for template in templates:
        generated.templates[template.id] = " ".join(template.sentences)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for number, kind in enumerate(kinds):
        ad_id = f"ad-{seed}-{number:07d}"
        seen_at = start + dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
        if kind is None:
            language = rng.choice(list(languages))
            common = _COMMON[language].split()
            sentences = [_background_sentence(rng, vocabulary, common) for _ in range(rng.randint(3, 6))]
            # Unrelated ads never share a contact: a made-up address of their own.
            own_contact = (
                f"{_pseudo_word(rng)}.{number}@example.com" if rng.random() < 0.5 else None
            )
            text = " ".join(sentences) + (f" {own_contact}" if own_contact else "")
            ad = RawAd(
                ad_id=ad_id, text=text, title=" ".join(sentences[0].split()[:4]).rstrip("."),
                location=rng.choice(_CITIES[language]), contact=own_contact,
                url=f"https://jobs.example.com/ad/{number}", seen_at=seen_at, source="generated",
                row=number + 2,
            )
            generated.ads.append(ad)
            generated.truth.append(AdTruth(ad_id, None, None, language))
            continue
        template = templates[kind]
        network = network_by_id[template.network]
        language = template.language
        pay = f"{rng.randrange(8, 60) * 100} {template.currency}"
        slots = {
            "name": rng.choice(_NAMES[language]),
            "city": rng.choice(_CITIES[language]),
            "country": rng.choice(_COUNTRIES[language]),
            "job": rng.choice(_JOBS[language]),
            "pay": pay,
            "date": f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}",
            "contact": rng.choice(network.contacts),
        }
        sentences = [_fill(rng, sentence, template, network, slots) for sentence in template.sentences]
        if rng.random() < noise:
            action = rng.randrange(4)
            if action == 0:
                index = rng.randrange(len(sentences))
                sentences[index] = _typo(rng, sentences[index])
            elif action == 1 and len(sentences) > 2:
                index = rng.randrange(1, len(sentences) - 1)
                sentences[index - 1], sentences[index] = sentences[index], sentences[index - 1]
            elif action == 2 and len(sentences) > 3:
                del sentences[rng.randrange(1, len(sentences) - 1)]
            else:
                common = _COMMON[language].split()
                sentences.insert(rng.randrange(len(sentences) + 1), _background_sentence(rng, vocabulary, common))
        ad = RawAd(
            ad_id=ad_id, text=" ".join(sentences),
            title=_fill(rng, template.title, template, network, slots),
            location=slots["city"], salary=pay, contact=slots["contact"],
            url=f"https://jobs.example.com/ad/{number}", seen_at=seen_at, source="generated",
            row=number + 2,
        )
        generated.ads.append(ad)
        generated.truth.append(AdTruth(ad_id, template.id, network.id, language))
    return generated


CSV_COLUMNS = ("ad_id", "title", "text", "location", "salary", "contact", "url", "seen_at")


def write_csv(ads: Sequence[RawAd], path: Path) -> None:
    """Write ads in the ingest CSV layout (``tiphub online ingest`` reads it back)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for ad in ads:
            writer.writerow([
                ad.ad_id, ad.title or "", ad.text, ad.location or "", ad.salary or "",
                ad.contact or "", ad.url or "", ad.seen_at.isoformat() if ad.seen_at else "",
            ])


def write_truth_csv(generated: GeneratedAds, path: Path) -> None:
    """Write the ground truth: ad_id, template_id, network_id, language (empty for background)."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("ad_id", "template_id", "network_id", "language"))
        for item in generated.truth:
            writer.writerow((item.ad_id, item.template_id or "", item.network_id or "", item.language))
