"""Reproducible synthetic demo data: cases at several organisations, with known duplicates.

Everything here is invented. Names are drawn from small per-country lists of common given
and family names, combined at random; phone numbers use the UK range kept for drama
(+44 7700 900xxx) or a 555 prefix; dates, routes and facts are sampled from distributions
loosely shaped on the CTDC global data set (about 70 % of victims female, a fifth minors,
about half sexual exploitation, a third to two fifths forced labour, a few per cent forced
criminality).

``generate(n, seed)`` streams ``n`` schema-valid :class:`CaseRecord` objects, each with the
:class:`TruthRow` list that says which synthetic person every participant really is. About
a quarter of the victims are recorded by two or more organisations, as separate cases with
the kind of noise real records have (typos, transliteration variants, nicknames, swapped
day and month, missing values, slightly different facts), so that record linkage can be
evaluated against the truth. The same ``(n, seed)`` always gives the same output.

Victims met in England and Wales, and most of those met in Romania, go through the country's
national referral mechanism (:mod:`tiphub.demo.mechanisms`, on the workflows of
``tiphub/screening/data/workflows``): every record of the person in that country carries the
referral (its mechanism, stage, dates and reference) and the decisions it recorded, each with
its ``referral_reference`` and grounds; the first responder's record also holds the person's
consent to referral and the service referral for support after a positive first decision.
The screenings that come before (:mod:`tiphub.demo.screenings`) are stored apart, by the loader.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
import unicodedata
from bisect import bisect_right as _bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from tiphub.cases.schema import (
    CaseRecord,
    ConsentRecord,
    CriminalProceeding,
    IdentificationDecision,
    Identifier,
    Note,
    Participant,
    PerpetratorContext,
    PersonRecord,
    Record,
    Referral,
    ServiceProvision,
    StatusAssertion,
    SupportPlan,
    TraffickingEvent,
    VictimContext,
)
from tiphub.demo.mechanisms import (
    DECIDED_BY,
    RO,
    SUPPORT_PROVIDER,
    SUPPORT_SERVICES,
    UK,
    MechanismPath,
    ro_path,
    uk_path,
)

T = TypeVar("T")
R = TypeVar("R", bound=Record)

#: The generator never produces a date after this one, whatever today's date.
REFERENCE_DATE = dt.date(2025, 12, 31)
#: Cases are identified between this date and ``REFERENCE_DATE``.
FIRST_IDENTIFICATION = dt.date(2014, 1, 1)

_REF = REFERENCE_DATE.toordinal()
_FIRST = FIRST_IDENTIFICATION.toordinal()
# Records are planned in small groups (one trafficking situation and every record of its
# people); a bounded pool of planned records spreads them apart in the output stream.
_SHUFFLE_BUFFER = 256
# Share of victims whom a second organisation is asked to meet (when one on their route is
# left); about a quarter of all victims end up recorded at two or more organisations.
_DUPLICATE_SHARE = 0.42


# --- public API ------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoOrganisation:
    slug: str
    name: str
    type: str  # an organisation_type code
    country: str  # ISO 3166-1 alpha-2


@dataclass(frozen=True)
class TruthRow:
    organisation: str
    case_external_id: str
    person_external_id: str
    true_person_id: str


@dataclass(frozen=True)
class _Org:
    slug: str
    name: str
    type: str
    country: str
    weight: float  # share of first records (situations) identified here
    decider: str  # decision_making_org code for its own status assertions
    support: float  # probability that a case carries a support plan


_ORGS: tuple[_Org, ...] = (
    _Org(
        "gb-police",
        "Northmoor Constabulary Modern Slavery Unit",
        "LawEnforcement",
        "GB",
        0.13,
        "Police",
        0.15,
    ),
    _Org(
        "gb-nra",
        "National Referral Authority (demo)",
        "NationalAgency",
        "GB",
        0.09,
        "NonPoliceGovernmentalOrganization",
        0.35,
    ),
    _Org("gb-harbour", "Safe Harbour Survivor Trust", "NGO", "GB", 0.10, "NGO", 0.85),
    _Org("ro-speranta", "Fundația Speranța Nouă", "NGO", "RO", 0.10, "NGO", 0.85),
    _Org("de-lichtblick", "Fachberatungsstelle Lichtblick", "NGO", "DE", 0.10, "NGO", 0.8),
    _Org(
        "it-ispettorato",
        "Ispettorato del Lavoro Campania Sud (demo)",
        "LabourInspectorate",
        "IT",
        0.08,
        "NonPoliceGovernmentalOrganization",
        0.1,
    ),
    _Org(
        "ua-police",
        "Regional Police Anti-Trafficking Division Odesa (demo)",
        "LawEnforcement",
        "UA",
        0.09,
        "Police",
        0.15,
    ),
    _Org(
        "nl-zorgpunt",
        "Zorgpunt Veilig Amsterdam",
        "HealthServiceOrganisation",
        "NL",
        0.08,
        "Other",
        0.7,
    ),
    _Org(
        "ng-agency",
        "National Anti-Trafficking Agency, Benin Zonal Command (demo)",
        "NationalAgency",
        "NG",
        0.12,
        "NonPoliceGovernmentalOrganization",
        0.5,
    ),
    _Org("th-mekong", "Mekong Migrant Rights Foundation", "NGO", "TH", 0.08, "NGO", 0.8),
    _Org(
        "th-police",
        "Provincial Anti-Human Trafficking Police, Region 7 (demo)",
        "LawEnforcement",
        "TH",
        0.05,
        "Police",
        0.1,
    ),
)
_ORG_BY_SLUG = {org.slug: org for org in _ORGS}


def demo_organisations() -> list[DemoOrganisation]:
    """The synthetic organisations whose cases ``generate`` produces."""
    return [DemoOrganisation(o.slug, o.name, o.type, o.country) for o in _ORGS]


# --- small helpers ---------------------------------------------------------------------


class _Choice(Generic[T]):
    """A weighted choice, precomputed: one ``random()`` call per pick."""

    __slots__ = ("cumulative", "items", "total")

    def __init__(self, pairs: Sequence[tuple[T, float]]) -> None:
        # the last item twice: rounding can never pick past the end
        self.items = [item for item, _ in pairs] + [pairs[-1][0]]
        self.cumulative = list(itertools.accumulate(weight for _, weight in pairs))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[_bisect(self.cumulative, rng.random() * self.total)]


def _choice(text: str) -> _Choice[str]:
    """``"A:3 B:1"`` -> a weighted choice of A and B."""
    pairs = []
    for token in text.split():
        item, _, weight = token.rpartition(":")
        pairs.append((item, float(weight)))
    return _Choice(pairs)


def _int_choice(text: str) -> _Choice[int]:
    """``"18:3 19:1"`` -> a weighted choice of the integers 18 and 19."""
    pairs = []
    for token in text.split():
        item, _, weight = token.rpartition(":")
        pairs.append((int(item), float(weight)))
    return _Choice(pairs)


def _names(text: str) -> tuple[str, ...]:
    return tuple(token.replace("_", " ") for token in text.split())


def _one(rng: random.Random, items: Sequence[T]) -> T:
    """``rng.choice``, but several times faster."""
    return items[int(rng.random() * len(items))]


def _between(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint``, but several times faster."""
    return low + int(rng.random() * (high - low + 1))


def _below(rng: random.Random, stop: int) -> int:
    return int(rng.random() * stop)


_DAYS_FROM = dt.date(2000, 1, 1).toordinal()
_DAYS = [dt.date.fromordinal(day) for day in range(_DAYS_FROM, _REF + 1)]


def _date(ordinal: int) -> dt.date:
    """The day with this ordinal, but never after the reference date."""
    if ordinal >= _REF:
        return REFERENCE_DATE
    if ordinal >= _DAYS_FROM:
        return _DAYS[ordinal - _DAYS_FROM]
    return dt.date.fromordinal(ordinal)


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _strip_diacritics(text: str) -> str:
    special = {"đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ß": "ss", "ı": "i"}
    text = "".join(special.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# --- names -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _NamePool:
    key: str
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[tuple[str, str], ...]  # (masculine form, feminine form)
    languages: _Choice[str]
    family_first: bool = False  # names are written family name first (VN, CN, KH)
    middle_female: tuple[str, ...] = ()
    middle_male: tuple[str, ...] = ()
    middle_rate: float = 0.0
    middle_from_family: bool = False  # PH: the mother's maiden name as middle name
    nicknames_female: tuple[str, ...] = ()  # used instead of the given name (TH)
    nicknames_male: tuple[str, ...] = ()

    def family_name(self, index: int, female: bool) -> str:
        masculine, feminine = self.family[index]
        return feminine if female else masculine


def _pool(
    key: str, female: str, male: str, family: str, languages: str, **options: Any
) -> _NamePool:
    families = []
    for token in _names(family):
        masculine, _, feminine = token.partition("/")
        families.append((masculine, feminine or masculine))
    return _NamePool(
        key, _names(female), _names(male), tuple(families), _choice(languages), **options
    )


# Ukrainian names in the national Latin transliteration, with their Cyrillic spelling.
_UA_FEMALE = (
    "Mariia=Марія Olena=Олена Iryna=Ірина Nataliia=Наталія Tetiana=Тетяна Oksana=Оксана "
    "Yuliia=Юлія Anastasiia=Анастасія Kateryna=Катерина Svitlana=Світлана Halyna=Галина "
    "Liudmyla=Людмила Viktoriia=Вікторія Alina=Аліна Daryna=Дарина Sofiia=Софія "
    "Khrystyna=Христина Valentyna=Валентина"
)
_UA_MALE = (
    "Oleksandr=Олександр Andrii=Андрій Serhii=Сергій Dmytro=Дмитро Volodymyr=Володимир "
    "Mykola=Микола Ivan=Іван Vasyl=Василь Yurii=Юрій Oleh=Олег Maksym=Максим Bohdan=Богдан "
    "Taras=Тарас Viktor=Віктор Roman=Роман Petro=Петро"
)
_UA_FAMILY = (
    "Kovalenko=Коваленко Shevchenko=Шевченко Bondarenko=Бондаренко Tkachenko=Ткаченко "
    "Kravchenko=Кравченко Melnyk=Мельник Boiko=Бойко Oliinyk=Олійник Koval=Коваль "
    "Polishchuk=Поліщук Lysenko=Лисенко Savchenko=Савченко Rudenko=Руденко "
    "Marchenko=Марченко Moroz=Мороз Petrenko=Петренко Kovalchuk=Ковальчук Tkachuk=Ткачук "
    "Ponomarenko=Пономаренко Hrytsenko=Гриценко Kovalskyi/Kovalska=Ковальський/Ковальська "
    "Savytskyi/Savytska=Савицький/Савицька Zaiets=Заєць Pavlenko=Павленко"
)


def _split_cyrillic(text: str) -> tuple[str, dict[str, str]]:
    latin: list[str] = []
    cyrillic: dict[str, str] = {}
    for token in text.split():
        lat, _, cyr = token.partition("=")
        latin.append(lat)
        for lat_form, cyr_form in zip(lat.split("/"), cyr.split("/"), strict=True):
            cyrillic[lat_form] = cyr_form
    return " ".join(latin), cyrillic


_UA_FEMALE_LATIN, _CYRILLIC_FEMALE = _split_cyrillic(_UA_FEMALE)
_UA_MALE_LATIN, _CYRILLIC_MALE = _split_cyrillic(_UA_MALE)
_UA_FAMILY_LATIN, _CYRILLIC_FAMILY = _split_cyrillic(_UA_FAMILY)
# Latin spelling -> Cyrillic spelling of every Ukrainian name
_CYRILLIC: dict[str, str] = {**_CYRILLIC_FEMALE, **_CYRILLIC_MALE, **_CYRILLIC_FAMILY}

_POOLS: dict[str, _NamePool] = {
    "GB": _pool(
        "GB",
        "Emma Olivia Sophie Jessica Chloe Rebecca Hannah Lauren Amy Charlotte Katherine "
        "Samantha Elizabeth Nicola Jennifer Megan Leanne Kayleigh",
        "James Thomas Daniel Michael Christopher Matthew Joseph William Robert Ryan Liam "
        "Connor Jordan Kieran Jamie Jonathan Callum Lewis",
        "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
        "Evans Walker White Roberts Green Hall Wood Jackson Clarke Hughes Edwards Turner Murphy",
        "eng:1",
        middle_female=_names("Louise Jane Marie Anne Rose Elizabeth"),
        middle_male=_names("James John Paul David Lee Michael"),
        middle_rate=0.3,
    ),
    "RO": _pool(
        "RO",
        "Maria Elena Ioana Andreea Mihaela Cristina Alexandra Ana-Maria Gabriela Daniela "
        "Nicoleta Mădălina Roxana Florentina Georgiana Larisa Bianca Ștefania Alina Denisa",
        "Ion Alexandru Andrei Gheorghe Constantin Mihai Florin Ionuț Marius Cătălin Adrian "
        "Ștefan Vasile Nicolae Bogdan Cosmin Răzvan Dănuț",
        "Popescu Popa Ionescu Dumitru Stan Stoica Gheorghe Rusu Munteanu Matei Constantin "
        "Șerban Mocanu Lazăr Oprea Dinu Țurcanu Ciobanu Ștefănescu Mihăilă Bălan Nistor "
        "Preda Tănase",
        "ron:1",
    ),
    "MD": _pool(
        "MD",
        "Maria Elena Ana Natalia Olga Tatiana Cristina Ecaterina Irina Svetlana Doina "
        "Mariana Victoria Nadejda Corina Liliana",
        "Ion Vasile Sergiu Alexandru Andrei Vladimir Nicolae Igor Dumitru Victor Mihail "
        "Gheorghe Vitalie Oleg Ruslan Dorin",
        "Rusu Ciobanu Țurcanu Cebotari Lungu Munteanu Rotari Sârbu Popa Cojocaru Ceban "
        "Bejenaru Moraru Croitoru Guțu Melnic Botnari Balan",
        "ron:7 rus:3",
    ),
    "UA": _pool("UA", _UA_FEMALE_LATIN, _UA_MALE_LATIN, _UA_FAMILY_LATIN, "ukr:8 rus:2"),
    "BG": _pool(
        "BG",
        "Maria Ivanka Elena Yordanka Petya Desislava Gergana Silviya Tsvetelina Radka "
        "Vesela Nadezhda Galina Teodora Kristina Ralitsa",
        "Georgi Ivan Dimitar Nikolay Petar Hristo Stoyan Todor Angel Vasil Kiril Yordan "
        "Plamen Krasimir Momchil Asen",
        "Ivanov/Ivanova Georgiev/Georgieva Dimitrov/Dimitrova Petrov/Petrova "
        "Nikolov/Nikolova Hristov/Hristova Stoyanov/Stoyanova Todorov/Todorova "
        "Iliev/Ilieva Kolev/Koleva Angelov/Angelova Atanasov/Atanasova Yordanov/Yordanova "
        "Petkov/Petkova Marinov/Marinova Popov/Popova Mihaylov/Mihaylova Kostov/Kostova",
        "bul:9 tur:1",
    ),
    "AL": _pool(
        "AL",
        "Anisa Elira Ermira Klea Jonida Besjana Drita Fatjona Mirela Arta Blerina Eglantina "
        "Xhesika Rovena Alketa Suela Migena Dorina",
        "Arben Besnik Dritan Erion Klodian Gentian Ilir Artan Fatmir Ermal Endrit Kristi "
        "Redon Sokol Bledar Altin Marsel Arlind",
        "Hoxha Shehu Dervishi Gashi Kola Leka Marku Basha Çela Prifti Hasani Muça Dedja Rama "
        "Bregu Lika Mema Doçi Zeneli Tafa Kryeziu Bushati Përmeti Dibra",
        "sqi:1",
    ),
    "PL": _pool(
        "PL",
        "Anna Katarzyna Małgorzata Agnieszka Magdalena Joanna Aleksandra Monika Ewa Justyna "
        "Paulina Natalia Karolina Marta Dorota Beata",
        "Piotr Krzysztof Tomasz Paweł Michał Marcin Łukasz Grzegorz Jakub Adam Mariusz "
        "Dariusz Wojciech Kamil Sebastian Rafał",
        "Nowak Kowalski/Kowalska Wiśniewski/Wiśniewska Wójcik Kowalczyk Kamiński/Kamińska "
        "Lewandowski/Lewandowska Zieliński/Zielińska Szymański/Szymańska Woźniak "
        "Dąbrowski/Dąbrowska Kozłowski/Kozłowska Jankowski/Jankowska Mazur "
        "Kwiatkowski/Kwiatkowska Krawczyk Piotrowski/Piotrowska Grabowski/Grabowska",
        "pol:1",
    ),
    "NG": _pool(
        "NG",
        "Blessing Chiamaka Ngozi Oluwaseun Funmilayo Adaeze Chioma Temitope Aisha Precious "
        "Joy Esther Ifeoma Oluwatoyin Bukola Nneka Osarugue Omosede Favour Gift",
        "Chukwuemeka Oluwafemi Adebayo Babatunde Ibrahim Musa Chinonso Ikechukwu Olumide "
        "Uchenna Osagie Efosa Godwin Sunday Samuel Osaro Yusuf Kelechi",
        "Okafor Adeyemi Obi Eze Okonkwo Bello Ogunleye Nwosu Osagie Igbinedion Osazuwa "
        "Omoregie Ehigiator Aigbe Abubakar Olawale Chukwu Ogbonna Ojo Balogun Uwaifo "
        "Edosomwan Okoro Ibrahim",
        "eng:5 bin:2 yor:2 ibo:2",
        middle_female=_names("Osas Ese Nosa Amaka Ronke Ada"),
        middle_male=_names("Osas Nosa Chidi Tunde Ade Obinna"),
        middle_rate=0.3,
    ),
    "VN": _pool(
        "VN",
        "Lan Hương Linh Trang Thảo Ngọc Hà Mai Phương Anh Huyền Thủy Yến Nhung Hoa Vy",
        "Minh Hùng Dũng Tuấn Long Nam Hải Đức Thắng Quang Sơn Phong Hiếu Tùng Khánh Bảo",
        "Nguyễn Nguyễn Nguyễn Trần Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý",
        "vie:1",
        family_first=True,
        middle_female=_names("Thị Thị Thị Thị Ngọc Thu Thanh Kim"),
        middle_male=_names("Văn Văn Văn Đức Minh Hữu Quốc Công"),
        middle_rate=0.9,
    ),
    "PH": _pool(
        "PH",
        "Maria_Cristina Jonalyn Rowena Marites Analyn Jennylyn Rosalie Lorna Marivic "
        "Cherry_Mae Mary_Joy Kristine Jasmine Rhea Grace Divina",
        "Jose Juan Mark_Anthony Jomar Rodel Reynaldo Jerome John_Paul Rommel Arnel Joel "
        "Ramil Ricardo Edwin Noel Christian",
        "Santos Reyes Cruz Bautista Garcia Mendoza dela_Cruz Ramos Aquino Villanueva "
        "Castillo Flores Gonzales Fernandez Torres Domingo Mercado Navarro Pascual Soriano",
        "fil:6 eng:3 ceb:1",
        middle_rate=0.6,
        middle_from_family=True,
        nicknames_female=_names("Joy Lyn Cha Bing Weng Che"),
        nicknames_male=_names("Jojo Bong Jun Jonjon Boyet Dodong"),
    ),
    "TH": _pool(
        "TH",
        "Siriporn Supaporn Kanokwan Wanida Pornthip Nattaya Sukanya Jintana Ratana Kannika "
        "Duangjai Arunee Pimchanok Chutima Malee Sasithorn",
        "Somchai Somsak Prasert Wichai Anan Surachai Narong Thanakorn Kittisak Sombat "
        "Chaiwat Prasit Boonmee Nattapong Weerapong Apichat",
        "Saetang Srisuk Wongsawat Chaiyaphum Boonmee Rattanakorn Sukjai Thongdee Kaewmanee "
        "Phrommin Chantarasiri Sirisombat Jaidee Inthong Suksawat Panyadee Khamsing Wongchai",
        "tha:1",
        nicknames_female=_names("Nok Noi Lek Ploy Fah Pim Joy Nong May Bee Aom Kwan"),
        nicknames_male=_names("Ton Bank Bird Golf Boy Aek Bas Toon Chai Nut"),
    ),
    "KH": _pool(
        "KH",
        "Sreymom Sophea Chanthou Sokunthea Dalin Bopha Sreyleak Kanha Pisey Chenda Sothea "
        "Navy Leakhena Raksmey",
        "Dara Vannak Sokha Piseth Rithy Samnang Vuthy Sophal Chanthy Kosal Bunthoeun Sovann "
        "Visal Makara",
        "Sok Chan Kim Heng Meas Chea Sam Lim Ouk Prak Mao Keo Seng Touch Yim Nhem Phan Sor",
        "khm:1",
        family_first=True,
    ),
    "MM": _pool(
        "MM",
        "Thandar Khin_Mar Aye_Aye Su_Su Hnin_Wai Nilar Moe_Moe Ei_Ei Thida Yadanar "
        "Phyu_Phyu Zin_Mar May_Thu Cho_Cho Nandar San_San",
        "Aung_Kyaw Min_Thu Zaw_Min Kyaw_Zin Htet_Aung Ko_Ko Myo_Min Soe_Moe Tun_Tun "
        "Thet_Naing Win_Naing Ye_Yint Zaw_Zaw Hla_Myint Naing_Lin Than_Htike",
        "Win Aung Htun Oo Kyaw Myint Naing Lwin Soe Thein Htay Maung Khaing Zaw Hlaing Moe",
        "mya:9 shn:1",
    ),
    "CN": _pool(
        "CN",
        "Xiaoli Mei Ling Hui Yan Jing Fang Xiaoyan Lina Juan Xiuying Hong Min Ying",
        "Wei Jun Lei Qiang Hao Tao Jie Yong Chao Bin Gang Ming Peng Xin",
        "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Lin Guo He",
        "zho:1",
        family_first=True,
    ),
    "IN": _pool(
        "IN",
        "Priya Pooja Sunita Anita Kavita Neha Rekha Lakshmi Meena Geeta Asha Rani Sapna "
        "Jyoti Savita Deepa",
        "Rahul Amit Rajesh Sunil Vijay Ravi Manoj Sanjay Ramesh Suresh Anil Arjun Harpreet "
        "Gurpreet Mohan Deepak",
        "Kumar Singh Sharma Patel Yadav Gupta Das Reddy Verma Nair Mishra Chauhan Joshi "
        "Pandey Thakur Gill Sandhu",
        "hin:5 pan:3 eng:2",
    ),
    "BD": _pool(
        "BD",
        "Fatema Rahima Nasrin Shirin Ayesha Salma Rokeya Sabina Shamima Taslima Farzana "
        "Sadia Rubina Amina",
        "Mohammad Abdul Rahim Karim Rafiq Jahangir Imran Kamal Hasan Shahid Arif Masud Habib Jamal",
        "Hossain Rahman Islam Ahmed Khan Uddin Chowdhury Miah Sarkar Alam Haque Mondal Sheikh",
        "ben:1",
    ),
    "PK": _pool(
        "PK",
        "Ayesha Fatima Hina Nazia Sana Rubina Saima Amna Kiran Bushra Samina Asma",
        "Muhammad Ali Imran Bilal Tariq Faisal Usman Asif Kashif Zubair Adnan Waqas",
        "Khan Malik Qureshi Butt Iqbal Shaikh Chaudhry Raza Hussain Abbasi Mirza Akhtar",
        "urd:7 pan:3",
    ),
    "AR": _pool(
        "AR",
        "Fatima Amina Khadija Mariam Zainab Aisha Salma Hanan Samira Nadia Huda Asma Rania "
        "Layla Iman Sara",
        "Mohamed Ahmed Omar Ali Hassan Ibrahim Youssef Abdallah Mustafa Khalid Osman Adam "
        "Yassin Hamza Tarek Said",
        "Mohamed Ahmed Osman Abdelrahman Ibrahim Hassan El_Amrani Benali Idrissi Alaoui "
        "Bakri Elnour Mahmoud Saleh Abdalla Haroun Bennani Tazi",
        "ara:1",
    ),
    "ER": _pool(
        "ER",
        "Semhar Helen Saba Selam Winta Luwam Yordanos Senait Hiwet Rahwa Feven Meron Ruta "
        "Tsega Mebrat Almaz",
        "Yonas Daniel Samuel Filmon Teklay Habtom Kidane Berhane Tesfay Mehari Robel "
        "Yohannes Mussie Amanuel Dawit Henok",
        "Tesfamariam Ghebremedhin Tekle Habte Kidane Berhe Gebreyesus Woldu Haile Asmerom "
        "Mehari Tewelde Okbay Andemariam Negash Ghirmay",
        "tir:8 ara:2",
    ),
    "DE": _pool(
        "DE",
        "Anna Julia Laura Lena Sarah Lisa Katharina Sabine Nicole Jessica Melanie Stefanie "
        "Jana Franziska Vanessa Nadine",
        "Lukas Jonas Maximilian Tobias Daniel Florian Stefan Michael Thomas Sebastian Kevin "
        "Dennis Patrick Jan Marcel Christian",
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer "
        "Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann",
        "deu:1",
        middle_female=_names("Marie Sophie Maria Christine"),
        middle_male=_names("Alexander Maria Johannes Peter"),
        middle_rate=0.15,
    ),
    "IT": _pool(
        "IT",
        "Giulia Francesca Chiara Sara Martina Valentina Federica Alessia Silvia Elisa "
        "Giorgia Ilaria Roberta Serena Laura Anna",
        "Marco Alessandro Andrea Luca Matteo Francesco Lorenzo Davide Simone Giuseppe "
        "Antonio Salvatore Stefano Gabriele Fabio Vincenzo",
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo "
        "Conti De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti",
        "ita:1",
    ),
    "NL": _pool(
        "NL",
        "Emma Sanne Lotte Anouk Fleur Lisa Eva Iris Sophie Femke Kim Lieke Maud Noa Julia Esther",
        "Daan Sem Lucas Thijs Jesse Bram Ruben Lars Tim Niels Stijn Bas Jeroen Sander Wouter Joris",
        "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit Meijer "
        "de_Boer Mulder de_Groot Bos Vos Peters Hendriks van_Leeuwen Dekker Brouwer",
        "nld:1",
    ),
}
# Countries whose people are named from another country's list.
_POOL_OF_COUNTRY = {"SD": "AR", "MA": "AR"}


# Origins whose pools are widened from the linkage population's large frequency tables:
# with a few dozen names each, most pairs of victims with identical names were different
# people, which no real caseload looks like.
_POPULATION_ORIGIN = {
    "GB": "GBR",
    "RO": "ROU",
    "MD": "MDA",
    "UA": "UKR",
    "AL": "ALB",
    "NG": "NGA",
    "VN": "VNM",
    "TH": "THA",
    "IN": "IND",
}
_WIDER_GIVEN = 200
_WIDER_FAMILY = 900


@functools.cache
def _pool_for(country: str) -> _NamePool:
    return _widened(_POOLS[_POOL_OF_COUNTRY.get(country, country)])


def _widened(pool: _NamePool) -> _NamePool:
    """The pool with the population tables' names added after its own (the order is kept)."""
    origin = _POPULATION_ORIGIN.get(pool.key)
    if origin is None:
        return pool
    from tiphub.linkage.population import name_pairs

    def added(current: tuple[str, ...], pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
        known = set(current)
        fresh = [latin for latin, _ in pairs if latin not in known]
        if origin == "UKR":
            for latin, cyrillic in pairs:
                _CYRILLIC.setdefault(latin, cyrillic)
        return current + tuple(dict.fromkeys(fresh))

    female = added(pool.female, name_pairs(origin, "F")[:_WIDER_GIVEN])
    male = added(pool.male, name_pairs(origin, "M")[:_WIDER_GIVEN])
    family = pool.family
    # The Vietnamese surnames repeat to carry their real shares (Nguyễn is every third).
    if origin != "VNM":
        known = {form for forms in family for form in forms}
        surnames = added(tuple(known), name_pairs(origin, "F", "family")[:_WIDER_FAMILY])
        family += tuple((name, name) for name in surnames if name not in known)
    return replace(pool, female=female, male=male, family=family)


# Spelling variants that a different transliteration (or a different clerk) produces.
_VARIANTS: dict[str, tuple[str, ...]] = {
    # Ukrainian
    "Mariia": ("Maria", "Mariya", "Marija"),
    "Olena": ("Elena", "Alena"),
    "Iryna": ("Irina", "Iryna"),
    "Nataliia": ("Natalia", "Natalya", "Nataliya"),
    "Tetiana": ("Tatiana", "Tetyana", "Tatyana"),
    "Yuliia": ("Yulia", "Julia", "Yuliya"),
    "Anastasiia": ("Anastasia", "Anastasiya"),
    "Kateryna": ("Katerina", "Ekaterina"),
    "Svitlana": ("Svetlana",),
    "Halyna": ("Galina", "Halina"),
    "Liudmyla": ("Lyudmila", "Ludmila"),
    "Viktoriia": ("Viktoria", "Victoria"),
    "Daryna": ("Darina",),
    "Sofiia": ("Sofia", "Sofiya"),
    "Khrystyna": ("Khristina", "Kristina", "Hrystyna"),
    "Valentyna": ("Valentina",),
    "Oleksandr": ("Aleksandr", "Alexander", "Oleksander"),
    "Andrii": ("Andriy", "Andrey", "Andrij"),
    "Serhii": ("Serhiy", "Sergey", "Sergii"),
    "Dmytro": ("Dmitry", "Dmitro"),
    "Volodymyr": ("Vladimir", "Volodimir"),
    "Mykola": ("Nikolay", "Mikola"),
    "Yurii": ("Yuriy", "Yuri", "Jurij"),
    "Oleh": ("Oleg",),
    "Maksym": ("Maxim", "Maksim"),
    "Vasyl": ("Vasiliy", "Vasil"),
    "Petro": ("Petr", "Pyotr"),
    "Viktor": ("Victor",),
    "Kovalenko": ("Kowalenko",),
    "Shevchenko": ("Shewchenko", "Schewtschenko"),
    "Tkachenko": ("Tkatchenko",),
    "Kravchenko": ("Krawczenko",),
    "Melnyk": ("Melnik",),
    "Boiko": ("Boyko",),
    "Oliinyk": ("Oliynyk", "Olijnyk"),
    "Polishchuk": ("Polischuk",),
    "Savchenko": ("Sawtschenko",),
    "Hrytsenko": ("Gritsenko",),
    "Kovalskyi": ("Kovalskiy", "Kowalski"),
    "Kovalska": ("Kowalska",),
    "Zaiets": ("Zayets",),
    # Moldovan / Russian-influenced spellings
    "Ecaterina": ("Ekaterina",),
    "Nadejda": ("Nadezhda",),
    "Vitalie": ("Vitalii",),
    # Bulgarian
    "Silviya": ("Silvia",),
    "Tsvetelina": ("Cvetelina",),
    "Mihaylov": ("Mihailov",),
    "Mihaylova": ("Mihailova",),
    "Nikolay": ("Nikolai",),
    "Hristo": ("Christo",),
    "Hristov": ("Christov",),
    "Hristova": ("Christova",),
    # Arabic
    "Mohamed": ("Mohammed", "Muhammad", "Mohamad"),
    "Youssef": ("Yousef", "Yusuf"),
    "Omar": ("Umar",),
    "Hassan": ("Hasan",),
    "Osman": ("Othman", "Usman"),
    "Abdallah": ("Abdullah",),
    "Mustafa": ("Mostafa",),
    "Khalid": ("Khaled",),
    "Aisha": ("Aicha", "Ayesha"),
    "Fatima": ("Fatma", "Fatimah"),
    "Khadija": ("Khadidja",),
    "Zainab": ("Zeinab",),
    "Mariam": ("Maryam", "Meriem"),
    "Iman": ("Eman",),
    "Layla": ("Leila", "Laila"),
    "Tarek": ("Tariq",),
    "Said": ("Saeed",),
    "Ibrahim": ("Ebrahim",),
    "El Amrani": ("Elamrani", "Amrani"),
    "Abdalla": ("Abdullah",),
    "Muhammad": ("Mohammad", "Muhammed"),
    "Mohammad": ("Mohammed", "Md."),
    # Eritrean
    "Tesfay": ("Tesfaye",),
    "Yohannes": ("Johannes",),
    "Haile": ("Hayle",),
    "Tekle": ("Tecle",),
    "Ghebremedhin": ("Gebremedhin",),
    "Gebreyesus": ("Ghebreyesus",),
    # German
    "Meyer": ("Meier", "Maier"),
    "Schmidt": ("Schmitt",),
    # Thai
    "Somchai": ("Somchay",),
    "Siriporn": ("Siripon",),
    "Pornthip": ("Porntip",),
    "Saetang": ("Sae-Tang", "Sae Tang"),
    # Filipino
    "dela Cruz": ("Dela Cruz", "Delacruz", "De la Cruz"),
}

_NICKNAMES: dict[str, tuple[str, ...]] = {
    "Oleksandr": ("Sasha", "Oles"),
    "Mariia": ("Masha", "Marichka"),
    "Kateryna": ("Katia",),
    "Anastasiia": ("Nastia",),
    "Dmytro": ("Dima",),
    "Volodymyr": ("Vova",),
    "Mykola": ("Kolia",),
    "Iryna": ("Ira",),
    "Nataliia": ("Natasha",),
    "Tetiana": ("Tania",),
    "Svitlana": ("Sveta",),
    "Viktoriia": ("Vika",),
    "Maksym": ("Maks",),
    "Bohdan": ("Bodia",),
    "Alexandru": ("Alex",),
    "Gheorghe": ("Ghiță", "Gică"),
    "Constantin": ("Costel", "Costi"),
    "Ștefan": ("Fane",),
    "Gabriela": ("Gabi",),
    "Daniela": ("Dana",),
    "Mădălina": ("Mădă",),
    "Nicoleta": ("Nico",),
    "Florin": ("Flori",),
    "Mihaela": ("Miha",),
    "Elizabeth": ("Liz", "Beth"),
    "William": ("Will", "Bill"),
    "Robert": ("Rob", "Bob"),
    "Michael": ("Mike",),
    "Jessica": ("Jess",),
    "Rebecca": ("Becky",),
    "Thomas": ("Tom",),
    "Daniel": ("Dan", "Danny"),
    "Christopher": ("Chris",),
    "Samantha": ("Sam",),
    "Katherine": ("Kate", "Katie"),
    "Jonathan": ("Jon",),
    "Joseph": ("Joe",),
    "Matthew": ("Matt",),
    "Jennifer": ("Jen",),
    "Nicola": ("Nicky",),
    "James": ("Jim",),
    "Oluwaseun": ("Seun",),
    "Funmilayo": ("Funmi",),
    "Temitope": ("Tope",),
    "Oluwatoyin": ("Toyin",),
    "Bukola": ("Buki",),
    "Chukwuemeka": ("Emeka",),
    "Oluwafemi": ("Femi",),
    "Babatunde": ("Tunde",),
    "Chinonso": ("Nonso",),
    "Ikechukwu": ("Ike",),
    "Chiamaka": ("Amaka",),
    "Ifeoma": ("Ify",),
    "Olumide": ("Mide",),
    "Adebayo": ("Bayo",),
    "Uchenna": ("Uche",),
    "Katarzyna": ("Kasia",),
    "Małgorzata": ("Gosia",),
    "Aleksandra": ("Ola",),
    "Krzysztof": ("Krzysiek",),
    "Tomasz": ("Tomek",),
    "Dimitar": ("Mitko",),
    "Georgi": ("Gosho",),
    "Yordanka": ("Dancho",),
    "Maximilian": ("Max",),
    "Katharina": ("Kathi",),
    "Francesca": ("Franci",),
    "Giuseppe": ("Peppe",),
    "Salvatore": ("Totò",),
    "Alessandro": ("Ale",),
    "Mark Anthony": ("Mark",),
    "John Paul": ("JP",),
    "Maria Cristina": ("Tina",),
    "Mohamed": ("Hamada",),
    "Abdallah": ("Abdou",),
}

# Generic transliteration rules, tried when a name has no listed variant.
_RULES: tuple[tuple[str, str], ...] = (
    ("ii", "iy"),
    ("iy", "ii"),
    ("kh", "h"),
    ("ch", "tch"),
    ("w", "v"),
    ("v", "w"),
    ("ph", "f"),
    ("th", "t"),
    ("oo", "u"),
    ("ee", "i"),
    ("ou", "u"),
    ("y", "i"),
    ("j", "y"),
    ("x", "ks"),
    ("ks", "x"),
    ("sh", "sch"),
    ("ts", "tz"),
    ("c", "k"),
    ("k", "c"),
    ("ie", "y"),
    ("ll", "l"),
    ("nn", "n"),
    ("tt", "t"),
)
_LEGACY_CEDILLA = str.maketrans("șțȘȚ", "şţŞŢ")
_VOWELS = "aeiou"
_CONSONANTS = "bcdfghklmnprstvz"


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    position = 1 + _below(rng, len(text) - 2)
    operation = rng.random()
    if operation < 0.3:  # swap two neighbouring characters
        return text[:position] + text[position + 1] + text[position] + text[position + 2 :]
    if operation < 0.55:  # drop one
        return text[:position] + text[position + 1 :]
    if operation < 0.8:  # replace one with a similar-looking or similar-sounding letter
        old = text[position].lower()
        pool = _VOWELS if old in _VOWELS else _CONSONANTS
        new = _one(rng, [ch for ch in pool if ch != old])
        return text[:position] + new + text[position + 1 :]
    return text[: position + 1] + text[position] + text[position + 1 :]  # double one


def _variant(rng: random.Random, text: str) -> str | None:
    """Another plausible spelling of a name, or ``None`` if none comes to mind."""
    candidates = list(_VARIANTS.get(text, ()))
    stripped = _strip_diacritics(text)
    if stripped != text:
        candidates.append(stripped)
        if "ș" in text or "ț" in text or "Ș" in text or "Ț" in text:
            candidates.append(text.translate(_LEGACY_CEDILLA))
    if text[:3] in ("de ", "van") or text[:4] == "dela":
        candidates.append(text[0].upper() + text[1:])
        candidates.append(text.split()[-1])
    if not candidates:
        lower = text.lower()
        for old, new in _RULES:
            index = lower.find(old, 1)
            if index > 0:
                candidates.append(text[:index] + new + text[index + len(old) :])
                if len(candidates) >= 3:
                    break
    return _one(rng, candidates) if candidates else None


def _cyrillic(text: str | None) -> str | None:
    return _CYRILLIC.get(text, text) if text is not None else None


# --- places ----------------------------------------------------------------------------

_CITIES: dict[str, tuple[str, ...]] = {
    "GB": _names(
        "London Birmingham Manchester Leeds Glasgow Bristol Liverpool Sheffield "
        "Leicester Cardiff Peterborough Boston"
    ),
    "RO": _names("București Constanța Iași Craiova Galați Brașov Bacău Timișoara Ploiești"),
    "UA": _names("Kyiv Odesa Kharkiv Lviv Dnipro Zaporizhzhia Chernivtsi Vinnytsia"),
    "DE": _names("Berlin Hamburg München Köln Frankfurt_am_Main Stuttgart Dortmund Leipzig"),
    "IT": _names("Roma Milano Napoli Torino Foggia Latina Caserta Palermo Castel_Volturno"),
    "NL": _names("Amsterdam Rotterdam Den_Haag Utrecht Eindhoven Groningen Westland"),
    "NG": _names("Lagos Benin_City Abuja Port_Harcourt Ibadan Kano Enugu Uromi"),
    "TH": _names("Bangkok Pattaya Chiang_Mai Samut_Sakhon Mae_Sot Songkhla Phuket Ranong"),
    "VN": _names("Hà_Nội Nghệ_An Hà_Tĩnh Hải_Phòng Quảng_Bình Thành_phố_Hồ_Chí_Minh"),
    "AL": _names("Tiranë Durrës Elbasan Shkodër Vlorë Kukës"),
    "PL": _names("Warszawa Kraków Łódź Wrocław Lublin"),
    "BG": _names("Sofia Plovdiv Varna Sliven Pazardzhik Burgas"),
    "MD": _names("Chișinău Bălți Cahul Orhei"),
    "PH": _names("Manila Cebu Davao Iloilo Zamboanga"),
    "KH": _names("Phnom_Penh Battambang Siem_Reap Poipet Kampong_Cham"),
    "MM": _names("Yangon Mandalay Myawaddy Mawlamyine"),
    "ES": _names("Madrid Barcelona Almería Huelva Murcia"),
    "FR": _names("Paris Lyon Marseille Calais Lille"),
}

# Where the people identified in a destination country come from.
_SOURCES_FOR: dict[str, _Choice[str]] = {
    "GB": _choice("GB:26 AL:14 VN:10 RO:8 ER:4 SD:4 IN:4 PL:3 NG:4 UA:4 CN:4 PH:3 BG:3 PK:2 BD:2"),
    "DE": _choice("RO:20 BG:15 DE:15 UA:10 NG:8 PL:6 VN:5 MD:5 TH:4 AL:3 CN:3 IN:3 MA:3"),
    "IT": _choice("NG:30 RO:12 IT:8 IN:8 BD:8 PK:5 AL:5 MA:6 CN:5 UA:4 BG:4 ER:3 SD:2"),
    "NL": _choice("NL:30 RO:10 NG:8 UA:8 PL:10 BG:6 VN:5 PH:4 CN:3 ER:4 MA:3 IN:3 BD:2"),
    "TH": _choice("TH:30 MM:38 KH:22 VN:5 CN:3 BD:2"),
}
# Where the people identified back home were exploited (RO, UA, NG organisations).
_DOMESTIC_SHARE = {"RO": 0.35, "UA": 0.25, "NG": 0.35}
_DESTINATIONS_FROM: dict[str, _Choice[str]] = {
    "RO": _choice("GB:20 DE:20 IT:20 ES:10 FR:8 NL:7 AT:5 BE:5 CY:3 IE:2"),
    "UA": _choice("PL:25 RU:18 DE:12 CZ:10 IL:6 AE:5 TR:7 IT:5 GB:5 US:4 TH:3"),
    "NG": _choice("IT:25 LY:18 ES:8 ML:7 BF:4 AE:5 LB:5 SA:6 RU:5 GB:6 DE:5 FR:4 GH:2"),
}
_TRANSIT_FROM: dict[str, tuple[str, ...]] = {
    "VN": ("CN", "RU", "PL", "FR", "BE"),
    "NG": ("NE", "LY", "ML", "DZ"),
    "AL": ("IT", "GR", "FR", "BE"),
    "ER": ("SD", "LY", "ET", "EG"),
    "SD": ("LY", "EG", "TN"),
    "MM": ("TH",),
    "KH": ("TH",),
    "UA": ("PL", "HU", "MD"),
    "MD": ("RO", "UA"),
    "RO": ("HU", "AT"),
    "BG": ("RO", "HU", "AT"),
    "IN": ("AE", "QA"),
    "BD": ("IN", "AE"),
    "PK": ("AE", "IR", "TR"),
    "CN": ("RU", "HK"),
    "PH": ("AE", "HK", "SG"),
    "MA": ("ES", "FR"),
}
_TRANSIT_TO: dict[str, tuple[str, ...]] = {
    "GB": ("FR", "BE", "NL", "IE"),
    "DE": ("AT", "CZ", "PL", "HU"),
    "IT": ("LY", "GR", "AT"),
    "NL": ("BE", "DE", "FR"),
    "TH": ("MY", "LA"),
    "ES": ("MA", "FR"),
    "FR": ("IT", "ES"),
    "PL": ("UA", "SK"),
    "RU": ("BY", "KZ"),
    "AE": ("OM", "QA"),
    "LY": ("NE", "TD"),
    "US": ("MX", "GT"),
    "TR": ("GE",),
    "AT": ("HU", "SK"),
}
# Broad regions: a victim who moves on is met by an organisation in the same region.
_REGION: dict[str, str] = {
    **dict.fromkeys(
        _names(
            "GB IE FR BE NL DE AT CH IT ES PT GR CY PL CZ SK HU RO BG MD UA AL XK RS LT LV "
            "EE SE NO DK FI"
        ),
        "Europe",
    ),
    **dict.fromkeys(_names("NG GH NE ML BF LY TN DZ MA EG SD ER ET TD"), "Africa"),
    **dict.fromkeys(_names("TH MM KH LA VN MY SG CN HK PH ID"), "EastAsia"),
}
_CALLING_CODES = {
    "GB": "44",
    "RO": "40",
    "MD": "373",
    "UA": "380",
    "BG": "359",
    "AL": "355",
    "PL": "48",
    "NG": "234",
    "VN": "84",
    "PH": "63",
    "TH": "66",
    "KH": "855",
    "MM": "95",
    "CN": "86",
    "IN": "91",
    "BD": "880",
    "PK": "92",
    "SD": "249",
    "MA": "212",
    "ER": "291",
    "DE": "49",
    "IT": "39",
    "NL": "31",
}

# --- fact distributions ----------------------------------------------------------------

_EXPLOITATION = _choice(
    "SexualExploitation:50 ForcedLabour:32 ForcedCriminality:5.5 ForcedMarriage:3.5 "
    "ForcedBegging:2.5 Servitude:2 Other:1"
)
_EXPLOITATION_LABOUR_INSPECTORATE = _choice(
    "ForcedLabour:88 SexualExploitation:4 ForcedCriminality:4 Servitude:4"
)
_MINOR_SHARE = {
    "SexualExploitation": 0.25,
    "ForcedLabour": 0.12,
    "ForcedCriminality": 0.42,
    "ForcedMarriage": 0.5,
    "ForcedBegging": 0.6,
    "Servitude": 0.18,
    "Other": 0.2,
}
_GENDER_FOR: dict[str, _Choice[str]] = {
    "SexualExploitation": _choice(
        "Feminine:91.5 Masculine:5.5 TransgenderFeminine:1.8 NonConforming:0.4 "
        "NonSpecifiedUnknown:0.8"
    ),
    "ForcedLabour": _choice(
        "Feminine:40 Masculine:58.8 TransgenderMasculine:0.2 NonConforming:0.2 "
        "NonSpecifiedUnknown:0.8"
    ),
    "ForcedCriminality": _choice("Feminine:25 Masculine:74 NonSpecifiedUnknown:1"),
    "ForcedMarriage": _choice("Feminine:96 Masculine:3 NonSpecifiedUnknown:1"),
    "ForcedBegging": _choice("Feminine:50 Masculine:49 NonSpecifiedUnknown:1"),
    "Servitude": _choice("Feminine:80 Masculine:19 NonSpecifiedUnknown:1"),
    "Other": _choice("Feminine:55 Masculine:44 NonSpecifiedUnknown:1"),
}
_FEMININE = frozenset({"Feminine", "TransgenderFeminine"})
_ADULT_AGE = _int_choice(
    "18:4 19:5 20:5 21:5 22:5 23:5 24:5 25:5 26:5 27:4 28:4 29:4 30:3.2 "
    "31:3.2 32:3 33:3 34:3 35:2.8 36:2.6 37:2.4 38:2.2 39:2 40:2 41:1.8 "
    "42:1.6 43:1.4 44:1.3 45:1.2 46:1.1 47:1 48:0.9 50:0.8 52:0.7 55:0.6 "
    "58:0.5 61:0.4 65:0.2"
)
_MINOR_AGE = _int_choice("3:0.5 5:1 7:1.5 9:2 10:2.5 11:3 12:4 13:6 14:9 15:12 16:16 17:18")
_MINOR_AGE_BEGGING = _int_choice(
    "3:3 4:3 5:4 6:4 7:4 8:4 9:4 10:4 11:3 12:3 13:3 14:3 15:2 16:2 17:2"
)
_SEX_TYPES = _choice(
    "Prostitution:74 PrivateSexualServices:11 Pornography:8 RemoteInteractiveServices:7"
)
_INDUSTRY = _choice(
    "A_AgricultureForestryAndFishing:26 F_Construction:18 T_ActivitiesOfHouseholdsAsEmployers:17 "
    "I_AccommodationAndFoodServiceActivities:14 C_Manufacturing:12 "
    "S_OtherServiceActivities:5 H_TransportationAndStorage:3 "
    "G_WholesaleAndRetailTradeRepairOfMotorVehicles:3 N_AdministrativeAndSupportServiceActivities:2"
)
_INDUSTRY_TH = _choice(
    "A_AgricultureForestryAndFishing:45 C_Manufacturing:20 F_Construction:15 "
    "T_ActivitiesOfHouseholdsAsEmployers:12 I_AccommodationAndFoodServiceActivities:8"
)
# (code, base probability, probability when labour, probability when sexual)
_PASSPORT_PREFIXES = tuple(a + b for a in "ABCEFHKMNPRSTX" for b in "ABCEFHKMNPRSTX")
_MEANS_OF_CONTROL: tuple[tuple[str, float, float, float], ...] = (
    ("FalsePromises", 0.45, 0.5, 0.45),
    ("PsychologicalAbuse", 0.42, 0.35, 0.5),
    ("TakesEarnings", 0.3, 0.4, 0.35),
    ("RestrictsMovement", 0.3, 0.3, 0.4),
    ("PhysicalThreats", 0.28, 0.25, 0.35),
    ("PhysicalAbuse", 0.22, 0.18, 0.3),
    ("DebtBondage", 0.18, 0.35, 0.2),
    ("WithholdsDocuments", 0.15, 0.35, 0.2),
    ("ExcessiveWorkingHours", 0.1, 0.35, 0.1),
    ("WithholdsNecessities", 0.1, 0.15, 0.1),
    ("SexualAbuse", 0.05, 0.04, 0.25),
    ("PsychoactiveSubstance", 0.06, 0.03, 0.14),
    ("RestrictsFinancialAccess", 0.08, 0.12, 0.1),
    ("ThreatensChildrenFamily", 0.08, 0.08, 0.12),
    ("ThreatsLawEnforcement", 0.06, 0.12, 0.1),
    ("RestrictsMedicalCare", 0.04, 0.06, 0.05),
    ("Other", 0.03, 0.03, 0.02),
)
_MEANS_BASE = tuple((code, base) for code, base, _, _ in _MEANS_OF_CONTROL)
_MEANS_LABOUR = tuple((code, labour) for code, _, labour, _ in _MEANS_OF_CONTROL)
_MEANS_SEXUAL = tuple((code, sexual) for code, _, _, sexual in _MEANS_OF_CONTROL)
_RECRUITMENT = _choice(
    "ThroughFriendsOrSocialEvents:25 ThroughFamilyOrFamilyEvents:15 "
    "ThroughOnlineSocialNetworks:18 ThroughAnOnlineAdvertisement:12 AtWork:7 "
    "AtAPlaceOfBusiness:8 ThroughANewspaperAdvert:3 AtAnEducationalInstitution:3 "
    "ThroughATelevisionAdvert:1 Other:8"
)
_WEBSITES_BY_COUNTRY: dict[str, _Choice[str]] = {
    "CN": _choice("WeChat:6 QQ:2 QZone:1"),
    "TH": _choice("Line:5 Facebook:4 TikTok:1"),
    "UA": _choice("Telegram:4 Viber:3 Instagram:2 Facebook:1"),
    "MD": _choice("Viber:3 Facebook:3 Telegram:2 Instagram:1"),
    "VN": _choice("Facebook:6 FacebookMessenger:3 TikTok:1"),
    "PH": _choice("Facebook:6 FacebookMessenger:3 TikTok:1"),
}
_WEBSITES = _choice(
    "Facebook:30 Instagram:15 WhatsApp:15 TikTok:10 Telegram:6 "
    "FacebookMessenger:8 SnapChat:5 Viber:3 Twitter:2 Other:6"
)
_VULNERABILITIES: tuple[tuple[str, float], ...] = (
    ("Poverty", 0.5),
    ("Migration", 0.3),
    ("Education", 0.15),
    ("Homelessness", 0.07),
    ("MentalHealth", 0.08),
    ("Addiction", 0.06),
    ("AbusePhysical", 0.08),
    ("DisabilityAndPhysicalHealth", 0.05),
    ("Discrimination", 0.05),
    ("SocialGroup", 0.03),
    ("WorkEnvironment", 0.04),
    ("AbuseSocialMedia", 0.02),
)
_PERPETRATOR_ROLES = _choice(
    "RecruiterOrIntermediary:30 Exploiter:30 ControlledIndividual:10 Transporter:8 "
    "HarbouredIndividual:5 ReceivedIndividual:4 SoldIndividual:3 BoughtIndividual:2 "
    "Abuser:3 BrokerTravelAgent:2 Smuggler:2 Other:1"
)
_PERPETRATOR_AGE_BAND = _choice("18--20:3 21--23:6 24--26:10 27--29:12 30--38:35 39--47:22 48+:12")
_PERPETRATOR_SEX = _choice("Male:64 Female:33 Unknown:3")
_COMPANY_CORE = _names(
    "Agro Star Euro Prime Golden Green_Field Nord Atlas Delta Orion "
    "Sunrise Vista Royal Silver Eagle Blue_Line Central Premier"
)
_COMPANY_SECTOR = {
    "A_AgricultureForestryAndFishing": _names("Farms Harvest Fresh_Produce Fisheries"),
    "F_Construction": _names("Construction Builders Building_Services"),
    "C_Manufacturing": _names("Textiles Packaging Foods Manufacturing"),
    "I_AccommodationAndFoodServiceActivities": _names("Hospitality Catering Hotels"),
    "T_ActivitiesOfHouseholdsAsEmployers": _names("Home_Care Domestic_Staffing"),
}
_COMPANY_SUFFIX = {
    "GB": "Ltd",
    "DE": "GmbH",
    "IT": "S.r.l.",
    "NL": "B.V.",
    "RO": "S.R.L.",
    "TH": "Co., Ltd.",
    "UA": "TOV",
    "NG": "Ltd",
    "ES": "S.L.",
    "PL": "Sp. z o.o.",
}
_CHARGES: dict[str, tuple[str, ...]] = {
    "GB": (
        "Modern Slavery Act 2015 s.2 (human trafficking)",
        "Modern Slavery Act 2015 s.1 (slavery, servitude, forced or compulsory labour)",
        "Controlling prostitution for gain",
    ),
    "DE": (
        "§ 232 StGB Menschenhandel",
        "§ 232a StGB Zwangsprostitution",
        "§ 232b StGB Zwangsarbeit",
        "§ 233 StGB Ausbeutung der Arbeitskraft",
    ),
    "IT": (
        "Art. 601 c.p. tratta di persone",
        "Art. 603-bis c.p. intermediazione illecita e sfruttamento del lavoro",
        "Art. 600 c.p. riduzione in schiavitù",
    ),
    "RO": (
        "Art. 210 Cod penal - traficul de persoane",
        "Art. 211 Cod penal - traficul de minori",
        "Art. 213 Cod penal - proxenetismul",
    ),
    "UA": (
        "Art. 149 Criminal Code of Ukraine - trafficking in human beings",
        "Art. 303 Criminal Code of Ukraine - pimping",
    ),
    "NL": ("Art. 273f Sr mensenhandel",),
    "NG": (
        "Trafficking in Persons Act 2015 s.13 (trafficking)",
        "Trafficking in Persons Act 2015 s.22 (forced labour)",
    ),
    "TH": (
        "Anti-Trafficking in Persons Act B.E. 2551 s.6",
        "Anti-Trafficking in Persons Act B.E. 2551 s.6/1 (forced labour)",
    ),
}
_PARTNERS_OUT = _names(
    "Local_authority_social_services Legal_aid_clinic Women's_refuge Migrant_health_clinic "
    "Assisted_voluntary_return_programme Child_protection_services Trauma_counselling_centre "
    "Employment_support_programme Family_tracing_service Interpreting_service"
)
_PARTNERS_IN = _names(
    "Anonymous_hotline_report Border_police Hospital_emergency_department "
    "Trade_union_outreach Street_outreach_team Consulate School_safeguarding_lead "
    "Labour_rights_helpline"
)
_SERVICES = _choice(
    "Accommodation:18 Medical:14 Psychological:14 Legal:14 Interpretation:9 "
    "Financial:8 Education:5 Employment:6 Repatriation:5 FamilyTracing:3 "
    "Other:4"
)
_CLOSURE_REASONS = (
    "Support objectives met.",
    "Client returned to country of origin.",
    "Client disengaged from services.",
    "Referred to partner organisation for long-term support.",
    "Lost contact with client.",
    "Client moved to another region.",
)
_NOTES = (
    "Initial interview conducted with interpreter present.",
    "Client placed in safe accommodation.",
    "Medical assessment arranged; client attended.",
    "Client reports ongoing contact attempts by exploiters; safety plan reviewed.",
    "Documents recovered with consular assistance.",
    "Client attended counselling session.",
    "Follow-up call: client stable, no new concerns.",
    "Client expressed wish to return home; options discussed.",
    "Joint meeting with police liaison officer.",
    "Client started language course.",
    "Missed appointment; welfare check carried out.",
    "Risk assessment updated.",
    "Client informed of rights and of the reflection and recovery period.",
    "Wage claim prepared with legal adviser.",
)
_OBJECTIVES = {
    "SexualExploitationRehabilitation": "Safety, recovery from sexual exploitation, "
    "access to health care and counselling.",
    "LabourExploitationRehabilitation": "Recovery of unpaid wages, safe work, "
    "regularisation of status.",
    "SocialCare": "Stable accommodation and daily living support.",
    "Health": "Treatment of injuries and ongoing health needs.",
    "Legal": "Legal advice, support as witness, compensation claim.",
    "Livelihood": "Vocational training and access to employment.",
    "Education": "Return to school or training.",
}
_ACTION_PLANS = (
    "Weekly key-worker meetings; referrals as needed; review in three months.",
    "Safe house placement, medical check, legal consultation, then review.",
    "Fortnightly check-ins; support with benefits and housing applications.",
    "Coordinate with partner agencies; monthly case conference.",
)


_MARITAL = _choice("Single:55 Married:25 Divorced:8 Separated:7 Widowed:3 RegisteredPartnership:2")
_EDUCATION = _choice(
    "PrimaryEducation:25 LowerSecondaryEducation:30 UpperSecondaryEducation:28 "
    "PostSecondaryNonTertiaryEducation:7 BachelorsOrEquivalentLevel:8 MastersOrEquivalentLevel:2"
)
_RELATIONSHIP = _choice("Acquainted:55 Unaquainted:45")
_TRANSIT_COUNT = _Choice([(0, 0.45), (1, 0.4), (2, 0.15)])
_OUTGOING_COUNT = _Choice([(0, 0.55), (1, 0.3), (2, 0.12), (3, 0.03)])
_REFERRAL_STATUS = _choice("Completed:45 Accepted:30 Declined:10 Requested:15")
_PROCEEDING_OUTCOME = _choice("Convicted:45 Acquitted:15 Dismissed:25 PleaAgreement:15")
# (purpose, share of victims asked, share who agree)
_CONSENT_PURPOSES: tuple[tuple[str, float, float], ...] = (
    ("DataProcessing", 1.0, 0.97),
    ("Interview", 0.8, 0.9),
    ("Referral", 0.6, 0.88),
    ("Disclosure", 0.4, 0.75),
    ("Research", 0.25, 0.7),
)
_STATUS_RECENT = _choice("Active:80 FollowUp:15 Closed:5")
_STATUS_MIDDLE = _choice("Active:40 FollowUp:30 Closed:20 ClosedReferred:10")
_STATUS_OLD = _choice("Closed:60 ClosedReferred:20 FollowUp:10 Active:10")
# The national referral mechanism a case's country uses (a workflow id).
_MECHANISM_OF = {"GB": UK, "RO": RO}


# --- the synthetic world ---------------------------------------------------------------


@dataclass(slots=True)
class _Person:
    true_id: str
    pool: _NamePool
    country: str
    gender: str
    female: bool
    first: str
    middle: str | None
    family: str
    birth: dt.date
    language: str | None
    phone: str | None
    passport: str | None
    national_id: str | None
    marital: str | None = None
    education: str | None = None
    children: int | None = None


@dataclass(slots=True)
class _Victim:
    person: _Person
    relationship: str | None
    vulnerabilities: list[str]
    # formal identification decisions (kind -> day, outcome), the same at every organisation
    decisions: dict[str, tuple[int, str]] = field(default_factory=dict)
    # the path through a national referral mechanism (by workflow id), the same in every
    # record of the person in that country
    paths: dict[str, MechanismPath] = field(default_factory=dict)


@dataclass(slots=True)
class _Perpetrator:
    true_id: str
    kind: str
    person: _Person | None
    company_name: str | None
    roles: list[str]
    sex: str
    age_band: str
    nationality: str


@dataclass(slots=True)
class _Story:
    source: str
    destination: str
    transits: list[str]
    recruited: int  # date ordinals
    transit_dates: list[int]
    exploitation_start: int
    exploitation_end: int
    identified: int
    exploitation_types: list[str]
    sex_types: list[str]
    industry: str | None
    means: list[str]
    recruitment_methods: list[str]
    websites: list[str]
    recruitment_city: str | None
    exploitation_city: str | None


@dataclass(slots=True)
class _Appearance:
    org: _Org
    victims: list[_Victim]
    perpetrator: _Perpetrator | None
    opened: int
    primary: bool
    referred_by: str | None = None  # slug of the organisation that referred the case
    referred_on: int | None = None
    referred_to: list[tuple[str, int]] = field(default_factory=list)


class _World:
    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.case_counter = dict.fromkeys(_ORG_BY_SLUG, 0)
        self.person_counter = dict.fromkeys(_ORG_BY_SLUG, 0)
        self.true_counter = 0
        self.org_choice = _Choice([(org, org.weight) for org in _ORGS])

    # -- people -------------------------------------------------------------------------
    def _true_id(self) -> str:
        self.true_counter += 1
        return f"T{self.true_counter:07d}"

    def _phone(self, country: str) -> str:
        rng = self.rng
        if country == "GB":
            return f"+44 7700 900{_below(rng, 1000):03d}"
        code = _CALLING_CODES.get(country, "999")
        return f"+{code} 555 0{_below(rng, 100):02d} {_below(rng, 1000):03d}"

    def _person(self, country: str, gender: str, birth: dt.date, *, victim: bool) -> _Person:
        rng = self.rng
        pool = _pool_for(country)
        female = gender in _FEMININE or (
            gender not in ("Masculine", "TransgenderMasculine") and rng.random() < 0.5
        )
        first = _one(rng, pool.female if female else pool.male)
        family = pool.family_name(_below(rng, len(pool.family)), female)
        middle = None
        if pool.middle_rate and rng.random() < pool.middle_rate:
            if pool.middle_from_family:
                middle = pool.family_name(_below(rng, len(pool.family)), female)
            else:
                middle = _one(rng, pool.middle_female if female else pool.middle_male)
        passport = national_id = None
        if victim and rng.random() < 0.45:
            letters = _one(rng, _PASSPORT_PREFIXES)
            passport = f"{letters}{_below(rng, 10**7):07d}"
        if victim and rng.random() < 0.3:
            national_id = self._national_id(country, birth, female)
        adult = _age(birth, REFERENCE_DATE) >= 18
        person = _Person(
            self._true_id(),
            pool,
            country,
            gender,
            female,
            first,
            middle,
            family,
            birth,
            pool.languages.pick(rng),
            self._phone(country) if rng.random() < 0.4 else None,
            passport,
            national_id,
        )
        if victim and adult:
            person.marital = _MARITAL.pick(rng) if rng.random() < 0.5 else None
            if rng.random() < 0.3:
                person.education = _EDUCATION.pick(rng)
            if rng.random() < 0.35:
                person.children = _one(rng, (0, 0, 0, 1, 1, 2, 2, 3, 4))
        return person

    def _national_id(self, country: str, birth: dt.date, female: bool) -> str:
        rng = self.rng
        if country in ("RO", "MD"):  # CNP-like: sex/century digit, YYMMDD, then 6 digits
            century = (6 if female else 5) if birth.year >= 2000 else (2 if female else 1)
            return f"{century}{birth:%y%m%d}{_below(rng, 10**6):06d}"
        if country == "BG":  # EGN-like
            month = birth.month + (40 if birth.year >= 2000 else 0)
            return f"{birth:%y}{month:02d}{birth:%d}{_below(rng, 10**4):04d}"
        digits = {"NG": 11, "TH": 13, "UA": 9, "CN": 18, "IN": 12, "PK": 13, "BD": 10}
        count = digits.get(country, 10)
        return f"{_below(rng, 10**count):0{count}d}"

    # -- one trafficking situation ------------------------------------------------------
    def _route(self, org: _Org) -> tuple[str, str]:
        rng = self.rng
        if org.country in _SOURCES_FOR:
            return _SOURCES_FOR[org.country].pick(rng), org.country
        if rng.random() < _DOMESTIC_SHARE[org.country]:
            return org.country, org.country
        return org.country, _DESTINATIONS_FROM[org.country].pick(rng)

    def _story(self, org: _Org, source: str, destination: str) -> _Story:
        rng = self.rng
        domestic = source == destination
        span = _REF - 20 - _FIRST
        identified = _FIRST + int(span * rng.random() ** 0.75)
        duration = 14 + min(int(rng.expovariate(1 / 320)), 3000)
        start = identified - duration
        if org.country == destination:
            end = identified - _one(rng, (0, 0, 0, 1, 2, 5, 10))
        else:  # identified after coming home
            end = identified - _between(rng, 5, 240)
        end = max(end, start)
        recruited = start - (_between(rng, 0, 30) if domestic else _between(rng, 2, 150))
        transits: list[str] = []
        if not domestic:
            candidates = [
                c
                for c in (*_TRANSIT_FROM.get(source, ()), *_TRANSIT_TO.get(destination, ()))
                if c not in (source, destination)
            ]
            count = _TRANSIT_COUNT.pick(rng)
            if candidates and count:
                transits = rng.sample(candidates, min(count, len(candidates)))
        transit_dates = sorted(_between(rng, recruited, start) for _ in transits)

        inspectorate = org.type == "LabourInspectorate"
        main = (_EXPLOITATION_LABOUR_INSPECTORATE if inspectorate else _EXPLOITATION).pick(rng)
        types = [main]
        extra = rng.random()
        if main == "SexualExploitation" and extra < 0.06:
            types.append("ForcedLabour")
        elif main == "ForcedLabour" and extra < 0.04:
            types.append("SexualExploitation")
        elif main == "ForcedLabour" and extra < 0.07:
            types.append("ForcedCriminality")
        elif main == "Servitude" and extra < 0.3:
            types.append("ForcedLabour")
        sexual = "SexualExploitation" in types
        labour = "ForcedLabour" in types
        sex_types: list[str] = []
        if sexual:
            sex_types.append(_SEX_TYPES.pick(rng))
            if rng.random() < 0.12:
                other = _SEX_TYPES.pick(rng)
                if other not in sex_types:
                    sex_types.append(other)
        industry = None
        if labour or main == "Servitude":
            if main == "Servitude":
                industry = "T_ActivitiesOfHouseholdsAsEmployers"
            else:
                industry = (_INDUSTRY_TH if destination == "TH" else _INDUSTRY).pick(rng)
        random = rng.random
        means = [
            code
            for code, p in (_MEANS_SEXUAL if sexual else _MEANS_LABOUR if labour else _MEANS_BASE)
            if random() < p
        ]
        if not means:
            means = ["FalsePromises"]
        methods = [_RECRUITMENT.pick(rng)]
        if rng.random() < 0.12:
            other = _RECRUITMENT.pick(rng)
            if other not in methods:
                methods.append(other)
        websites: list[str] = []
        if any(
            m in ("ThroughOnlineSocialNetworks", "ThroughAnOnlineAdvertisement") for m in methods
        ):
            websites.append(_WEBSITES_BY_COUNTRY.get(source, _WEBSITES).pick(rng))
            if rng.random() < 0.2:
                other = _WEBSITES.pick(rng)
                if other not in websites:
                    websites.append(other)
        return _Story(
            source,
            destination,
            transits,
            recruited,
            transit_dates,
            start,
            end,
            identified,
            types,
            sex_types,
            industry,
            means,
            methods,
            websites,
            self._city(source),
            self._city(destination),
        )

    def _city(self, country: str) -> str | None:
        cities = _CITIES.get(country)
        return _one(self.rng, cities) if cities else None

    def _victim(self, story: _Story) -> _Victim:
        rng = self.rng
        main = story.exploitation_types[0]
        citizenship = story.source
        if story.source == story.destination and rng.random() < 0.05:
            citizenship = _one(rng, ("RO", "PL", "NG", "VN", "AL"))  # resident foreigner
        if main == "ForcedMarriage":
            minor = rng.random() < _MINOR_SHARE[main]
            age = _between(rng, 13, 17) if minor else _between(rng, 18, 26)
        elif rng.random() < _MINOR_SHARE[main]:
            age = (_MINOR_AGE_BEGGING if main == "ForcedBegging" else _MINOR_AGE).pick(rng)
        else:
            age = _ADULT_AGE.pick(rng)
        # nobody is recruited before their first birthday
        age = max(age, (story.identified - story.recruited) // 365 + 1)
        identified = dt.date.fromordinal(story.identified)
        try:
            latest = identified.replace(year=identified.year - age)
        except ValueError:  # 29 February
            latest = identified.replace(year=identified.year - age, day=28)
        birth = latest - dt.timedelta(days=_below(rng, 365))
        gender = _GENDER_FOR[main].pick(rng)
        person = self._person(citizenship, gender, birth, victim=True)
        familial = 0.45 if age < 18 or main in ("ForcedMarriage", "ForcedBegging") else 0.15
        if "ThroughFamilyOrFamilyEvents" in story.recruitment_methods:
            familial = 0.7
        roll = rng.random()
        relationship = (
            None
            if roll < 0.12
            else "Familial"
            if roll < 0.12 + familial * 0.88
            else _RELATIONSHIP.pick(rng)
        )
        random = rng.random
        vulnerabilities = [code for code, p in _VULNERABILITIES if random() < p]
        return _Victim(person, relationship, vulnerabilities)

    def _perpetrator(self, story: _Story, victim: _Victim) -> _Perpetrator:
        rng = self.rng
        labour = story.industry is not None
        roles = [_PERPETRATOR_ROLES.pick(rng)]
        if rng.random() < 0.3:
            other = _PERPETRATOR_ROLES.pick(rng)
            if other not in roles:
                roles.append(other)
        if labour and rng.random() < 0.25:
            core = _one(rng, _COMPANY_CORE)
            sector = _one(rng, _COMPANY_SECTOR.get(story.industry or "", ("Services",)))
            suffix = _COMPANY_SUFFIX.get(story.destination, "Ltd")
            return _Perpetrator(
                self._true_id(),
                "Company",
                None,
                f"{core} {sector} {suffix}",
                rng.sample(["Exploiter", "RecruiterOrIntermediary"], _between(rng, 1, 2)),
                "Unknown",
                "48+",
                story.destination,
            )
        roll = rng.random()
        nationality = (
            victim.person.country
            if roll < 0.6
            else story.destination
            if roll < 0.85
            else _SOURCES_FOR["GB"].pick(rng)
        )
        if _POOL_OF_COUNTRY.get(nationality, nationality) not in _POOLS:
            nationality = victim.person.country
        sex = _PERPETRATOR_SEX.pick(rng)
        band = _PERPETRATOR_AGE_BAND.pick(rng)
        low = {
            "18--20": 18,
            "21--23": 21,
            "24--26": 24,
            "27--29": 27,
            "30--38": 30,
            "39--47": 39,
            "48+": 48,
        }[band]
        high = {"48+": 66}.get(band, low + (8 if band in ("30--38", "39--47") else 2))
        age = _between(rng, low, high)
        identified = dt.date.fromordinal(story.identified)
        birth = identified - dt.timedelta(days=age * 365 + _below(rng, 365))
        gender = {"Female": "Feminine", "Male": "Masculine"}.get(sex, "NonSpecifiedUnknown")
        person = self._person(nationality, gender, birth, victim=False)
        return _Perpetrator(
            self._true_id(), "Individual", person, None, roles, sex, band, nationality
        )

    def situation(self) -> tuple[_Story, list[_Appearance]]:
        """One trafficking situation and every organisation's record of it."""
        rng = self.rng
        org = self.org_choice.pick(rng)
        source, destination = self._route(org)
        story = self._story(org, source, destination)
        count = 1 if rng.random() >= 0.1 else _one(rng, (2, 2, 3))
        victims = [self._victim(story) for _ in range(count)]
        perpetrator = self._perpetrator(story, victims[0]) if rng.random() < 0.62 else None
        opened = min(story.identified + _one(rng, (0, 0, 0, 1, 2, 3, 7, 14)), _REF)
        primary = _Appearance(org, victims, perpetrator, opened, primary=True)
        appearances = [primary]
        labour = "ForcedLabour" in story.exploitation_types
        for victim in victims:
            if rng.random() >= _DUPLICATE_SHARE:
                continue
            extra = _one(rng, (1, 1, 1, 1, 1, 1, 1, 2, 2, 3))
            used = {org.slug}
            for _ in range(extra):
                other = self._other_org(story, used, labour)
                if other is None:
                    break
                used.add(other.slug)
                via_referral = rng.random() < 0.6
                if via_referral:
                    referred_on = min(opened + _between(rng, 1, 120), _REF)
                    when = min(referred_on + _between(rng, 0, 30), _REF)
                    primary.referred_to.append((other.slug, referred_on))
                else:
                    referred_on = None
                    when = min(story.identified + _between(rng, 20, 900), _REF)
                carries_perpetrator = perpetrator is not None and rng.random() < 0.5
                appearances.append(
                    _Appearance(
                        other,
                        [victim],
                        perpetrator if carries_perpetrator else None,
                        when,
                        primary=False,
                        referred_by=org.slug if via_referral else None,
                        referred_on=referred_on,
                    )
                )
        for victim in victims:
            self._decide(victim, appearances)
        return story, appearances

    def _decide(self, victim: _Victim, appearances: list[_Appearance]) -> None:
        """The formal identification decisions about a victim, whoever records them."""
        rng = self.rng
        mine = [a for a in appearances if any(v is victim for v in a.victims)]
        # A person's path through a national mechanism is drawn from their own random
        # stream: the world's stream, and with it every other fact of the demo, stays as it
        # was before the mechanisms were modelled.
        own = random.Random(f"tiphub-demo-mechanism/{self.seed}/{victim.person.true_id}")
        gb = [a for a in mine if a.org.country == "GB"]
        if gb:  # the first responder in England and Wales refers to the NRM
            first = min(gb, key=lambda a: a.opened)
            _earlier_nrm_draws(rng, first.opened)
            adult = _age(victim.person.birth, _date(first.opened)) >= 18
            victim.paths[UK] = uk_path(own, first.org.slug, first.opened, adult, _REF)
        ro = [a for a in mine if a.org.country == "RO"]
        if ro and own.random() < 0.85:  # Romania's NMIR
            first = min(ro, key=lambda a: a.opened)
            victim.paths[RO] = ro_path(own, first.org.slug, first.opened, _REF)
        for appearance in mine:
            if appearance.org.country in ("NG", "UA") and rng.random() < 0.7:
                day = appearance.opened + _between(rng, 1, 60)
                outcome = "Positive" if rng.random() < 0.85 else "Negative"
                victim.decisions["FormalIdentification"] = (
                    day,
                    outcome if day <= _REF else "Pending",
                )

    def _other_org(self, story: _Story, used: set[str], labour: bool) -> _Org | None:
        """Another organisation that meets the same victim: one in a country on the route,
        seldom one elsewhere in the region (the victim moved on), never a labour inspectorate
        unless the victim was in forced labour."""
        rng = self.rng
        route = (story.source, story.destination, *story.transits)
        regions = {_REGION.get(country) for country in route}
        related: list[_Org] = []
        unrelated: list[_Org] = []
        for org in _ORGS:
            if org.slug in used or (org.type == "LabourInspectorate" and not labour):
                continue
            if org.country in route:
                related.append(org)
            elif _REGION[org.country] in regions:
                unrelated.append(org)
        if related and rng.random() < 0.97:
            return _one(rng, related)
        if unrelated and rng.random() < 0.2:
            return _one(rng, unrelated)
        return None

    # -- records ------------------------------------------------------------------------
    def _next_case_id(self, org: _Org) -> str:
        self.case_counter[org.slug] += 1
        return f"{org.slug}-{self.case_counter[org.slug]:07d}"

    def _next_person_id(self, org: _Org) -> str:
        self.person_counter[org.slug] += 1
        return f"{org.slug}-P{self.person_counter[org.slug]:07d}"

    def _identity(self, person: _Person, org: _Org, noisy: bool, victim: bool) -> dict[str, Any]:
        rng = self.rng
        first: str | None = person.first
        middle = person.middle
        family: str | None = person.family
        birth: dt.date | None = person.birth
        gender: str | None = person.gender
        if noisy:
            roll = rng.random()
            if roll < 0.1:
                first = _typo(rng, person.first)
            elif roll < 0.25:
                first = _variant(rng, person.first) or _typo(rng, person.first)
            elif roll < 0.33:
                nicknames = _NICKNAMES.get(person.first) or (
                    person.pool.nicknames_female if person.female else person.pool.nicknames_male
                )
                first = _one(rng, nicknames) if nicknames else person.first
            elif roll < 0.39:
                first = None
            roll = rng.random()
            if roll < 0.1:
                family = _typo(rng, person.family)
            elif roll < 0.22:
                family = _variant(rng, person.family) or person.family
            elif roll < 0.25:
                family = None
            elif roll < 0.29:
                family = person.family.upper()
            if middle is not None:
                roll = rng.random()
                if roll < 0.4:
                    middle = None
                elif roll < 0.5 and first is not None:
                    first, middle = f"{first} {middle}", None
            if rng.random() < (0.15 if person.pool.family_first else 0.04):
                first, family = family, first
            roll = rng.random()
            if roll < 0.14:
                birth = None
            elif roll < 0.22:
                if person.birth.day <= 12 and person.birth.day != person.birth.month:
                    birth = person.birth.replace(month=person.birth.day, day=person.birth.month)
                else:
                    birth = _shift_year(person.birth, _one(rng, (-1, 1)))
            elif roll < 0.27:
                birth = _shift_year(person.birth, _one(rng, (-1, 1)))
            elif roll < 0.31:
                birth = person.birth.replace(month=1, day=1)
            if rng.random() < 0.02:
                gender = "NonSpecifiedUnknown"
        else:
            roll = rng.random()
            if roll < 0.05:
                birth = None
            elif roll < 0.08:
                birth = person.birth.replace(month=1, day=1)
            if rng.random() < 0.01:
                first = None
        if person.pool.key == "UA" and rng.random() < (0.5 if org.country == "UA" else 0.03):
            first, middle, family = _cyrillic(first), None, _cyrillic(family)
        if not victim:
            roll = rng.random()
            if roll < 0.15:
                first = None
            if rng.random() < 0.45:
                family = None
            if rng.random() < 0.85:
                birth = None
            if rng.random() < 0.3:
                gender = None
        if birth is not None and birth > REFERENCE_DATE:
            birth = person.birth
        identity: dict[str, Any] = {
            "first_name": first,
            "middle_name": middle,
            "family_name": family,
            "birth_date": birth,
            "gender": gender,
        }
        if not victim:
            if rng.random() < 0.5:
                identity["citizenship"] = [person.country]
            return identity
        if not noisy or rng.random() > 0.08:
            identity["citizenship"] = [person.country]
        if person.language and rng.random() < 0.8:
            identity["primary_language"] = person.language
            if person.language != "eng" and rng.random() < 0.2:
                identity["secondary_language"] = "eng"
        identifiers = []
        if person.passport and rng.random() < (0.7 if noisy else 0.85):
            value = person.passport
            if noisy and rng.random() < 0.06:
                value = _typo(rng, value)
            identifiers.append(
                {"kind": "Passport", "value": value, "issuing_country": person.country}
            )
        if person.national_id and rng.random() < 0.6:
            identifiers.append(
                {
                    "kind": "NationalId",
                    "value": person.national_id,
                    "issuing_country": person.country,
                }
            )
        if identifiers:
            identity["identifiers"] = identifiers
        if person.phone:
            roll = rng.random()
            if not noisy or roll < 0.35:
                identity["mobile_phone"] = person.phone
            elif roll < 0.45:
                identity["mobile_phone"] = person.phone.replace(" ", "")
            elif roll < 0.55:
                identity["mobile_phone"] = self._phone(person.country)
        if rng.random() < 0.2:
            city = self._city(org.country)
            if city:
                identity["mailing_city"] = city
                identity["mailing_country"] = org.country
        if person.marital and rng.random() < 0.8:
            identity["marital_status"] = person.marital
        if person.education and rng.random() < 0.8:
            identity["education"] = person.education
        if person.children is not None and rng.random() < 0.8:
            identity["number_of_children"] = person.children
        return identity

    def record(
        self, appearance: _Appearance, story: _Story
    ) -> tuple[dict[str, Any], list[TruthRow]]:
        rng = self.rng
        org = appearance.org
        case_id = self._next_case_id(org)
        opened = appearance.opened
        noisy = not appearance.primary
        facts = story if appearance.primary else self._vary(story)
        participants: list[dict[str, Any]] = []
        truth: list[TruthRow] = []
        events: list[dict[str, Any]] = []
        consents: list[dict[str, Any]] = []
        decisions: list[dict[str, Any]] = []
        plans: list[dict[str, Any]] = []
        mechanism_referrals: list[dict[str, Any]] = []
        caseworker = f"caseworker-{_between(rng, 1, 40):02d}"
        for victim in appearance.victims:
            person_id = self._next_person_id(org)
            truth.append(TruthRow(org.slug, case_id, person_id, victim.person.true_id))
            person = {
                "external_id": person_id,
                **self._identity(victim.person, org, noisy, victim=True),
            }
            if person["gender"] is None:
                person["gender"] = "NonSpecifiedUnknown"
            statuses, victim_decisions = self._status(victim, org, opened, person_id)
            decisions.extend(victim_decisions)
            confirmed = statuses[-1]["status"] == "ActualVictimOfTrafficking"
            age_trafficked: int | None = max(
                0, _age(victim.person.birth, dt.date.fromordinal(facts.recruited))
            )
            if noisy and age_trafficked is not None:
                roll = rng.random()
                if roll < 0.15:
                    age_trafficked = None
                elif roll < 0.3:
                    age_trafficked = max(0, age_trafficked + _one(rng, (-1, 1)))
            context: dict[str, Any] = {
                "trafficking_status": statuses,
                "recruitment_methods": list(facts.recruitment_methods),
                "recruitment_websites": list(facts.websites),
                "means_of_control": list(facts.means),
                "exploitation_types": list(facts.exploitation_types),
                "sex_exploitation_types": list(facts.sex_types),
                "industry": facts.industry,
                "age_when_trafficked": age_trafficked,
                "relationship_to_trafficker": victim.relationship
                if not noisy or rng.random() < 0.8
                else None,
                "vulnerabilities": list(victim.vulnerabilities),
            }
            if facts.recruitment_city:
                context["location_of_recruitment"] = f"{facts.recruitment_city}, {facts.source}"
            if facts.exploitation_city:
                context["location_of_exploitation"] = (
                    f"{facts.exploitation_city}, {facts.destination}"
                )
            participants.append(
                {
                    "role": "Victim" if confirmed else "PresumedVictim",
                    "person": person,
                    "victim": context,
                }
            )
            identified = facts.identified if appearance.primary else opened
            events.extend(self._events(facts, org, identified, person_id))
            person_consents = self._consents(person_id, opened, caseworker)
            path = victim.paths.get(_MECHANISM_OF.get(org.country, ""))
            if path is not None:
                mechanism_referrals.extend(_mechanism_referrals(path, org, person_id, caseworker))
                if path.referrer == org.slug and path.mechanism == UK:
                    _consent_to_referral(person_consents, path, victim.person.birth)
            consents.extend(person_consents)
            if rng.random() < org.support:
                plans.append(self._plan(person_id, org, facts, opened))
        perpetrator = appearance.perpetrator
        perpetrator_id = None
        if perpetrator is not None:
            perpetrator_id = self._next_person_id(org)
            truth.append(TruthRow(org.slug, case_id, perpetrator_id, perpetrator.true_id))
            participants.append(
                self._perpetrator_participant(perpetrator, perpetrator_id, org, noisy)
            )
        age_days = _REF - opened
        status = _status_for_age(age_days).pick(rng)
        document: dict[str, Any] = {
            "external_id": case_id,
            "organisation": org.slug,
            "status": status,
            "case_owner": caseworker,
            "opened_on": _date(opened),
            "participants": participants,
            "events": events,
            "consents": consents,
            "referrals": self._referrals(appearance, opened, caseworker) + mechanism_referrals,
            "support_plans": plans,
            "notes": self._notes(opened, caseworker),
            "identification_decisions": decisions,
        }
        if status in ("Closed", "ClosedReferred"):
            document["reason_for_closure"] = _one(rng, _CLOSURE_REASONS)
        if perpetrator_id is not None:
            chance = 0.5 if org.type == "LawEnforcement" else 0.15
            if rng.random() < chance:
                document["criminal_proceedings"] = [
                    self._proceeding(perpetrator_id, org, story, opened)
                ]
        return document, truth

    def _vary(self, story: _Story) -> _Story:
        """The same situation as another organisation recorded it."""
        rng = self.rng
        shift = _between(rng, -20, 20) if rng.random() < 0.4 else 0
        start = min(story.exploitation_start + shift, story.identified)
        recruited = min(
            story.recruited + (_between(rng, -30, 30) if rng.random() < 0.3 else 0), start
        )
        types = list(story.exploitation_types)
        if len(types) > 1 and rng.random() < 0.4:
            types = types[:1]
        means = [m for m in story.means if rng.random() < 0.8] or story.means[:1]
        if rng.random() < 0.2:
            code = _one(rng, _MEANS_OF_CONTROL)[0]
            if code not in means:
                means.append(code)
        transits = story.transits if rng.random() < 0.7 else []
        return _Story(
            story.source,
            story.destination,
            transits,
            recruited,
            [min(max(d, recruited), start) for d in story.transit_dates[: len(transits)]],
            start,
            max(story.exploitation_end, start),
            max(story.identified, start),
            types,
            story.sex_types if "SexualExploitation" in types else [],
            story.industry if rng.random() < 0.85 else None,
            means,
            story.recruitment_methods if rng.random() < 0.8 else [],
            story.websites if rng.random() < 0.7 else [],
            story.recruitment_city if rng.random() < 0.7 else None,
            story.exploitation_city if rng.random() < 0.8 else None,
        )

    def _status(
        self, victim: _Victim, org: _Org, opened: int, person_id: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rng = self.rng
        first_status = (
            "ActualVictimOfTrafficking"
            if org.type in ("NationalAgency", "LawEnforcement") and rng.random() < 0.3
            else "PossibleVictimOfTrafficking"
        )
        statuses: list[dict[str, Any]] = [
            {
                "status": first_status,
                "decided_by_type": org.decider,
                "asserted_by": org.slug,
                "asserted_on": _date(opened),
            }
        ]
        decisions: list[dict[str, Any]] = []
        nrm = victim.decisions
        path = victim.paths.get(_MECHANISM_OF.get(org.country, ""))
        if path is not None and path.mechanism == UK:
            return _mechanism_statuses(path, statuses, person_id, org)
        if org.country in ("NG", "UA") and "FormalIdentification" in nrm:
            day, outcome = nrm["FormalIdentification"]
            decisions.append(
                {
                    "person_external_id": person_id,
                    "decision_type": "FormalIdentification",
                    "outcome": outcome,
                    "decided_by": org.slug,
                    "decided_on": _date(day) if outcome != "Pending" else None,
                    "jurisdiction": org.country,
                }
            )
            if outcome != "Pending" and day >= opened:
                statuses.append(
                    {
                        "status": "ActualVictimOfTrafficking"
                        if outcome == "Positive"
                        else "NotAVictimOfTrafficking",
                        "decided_by_type": org.decider,
                        "asserted_by": org.slug,
                        "asserted_on": _date(day),
                    }
                )
            return statuses, decisions
        if rng.random() < 0.3:
            decisions.append(
                {
                    "person_external_id": person_id,
                    "decision_type": "PreliminaryIdentification",
                    "outcome": "Positive" if rng.random() < 0.9 else "Pending",
                    "decided_by": org.slug,
                    "decided_on": _date(opened),
                    "jurisdiction": org.country,
                }
            )
        if first_status == "PossibleVictimOfTrafficking" and rng.random() < 0.45:
            day = opened + _between(rng, 20, 400)
            if day <= _REF:
                statuses.append(
                    {
                        "status": "ActualVictimOfTrafficking"
                        if rng.random() < 0.87
                        else "NotAVictimOfTrafficking",
                        "decided_by_type": _one(rng, (org.decider, "CourtOrProsecution", "Police")),
                        "asserted_by": org.slug,
                        "asserted_on": _date(day),
                    }
                )
        if path is not None:
            # Romania's NMIR: its decisions take the place of those drawn above (still drawn,
            # so that the world's random stream stays as it was).
            return _mechanism_statuses(path, statuses[:1], person_id, org)
        return statuses, decisions

    def _events(
        self, story: _Story, org: _Org, identified_on: int, person_id: str
    ) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = [
            {
                "type": "Recruitment",
                "person_external_id": person_id,
                "country": story.source,
                "city": story.recruitment_city,
                "started_on": _date(story.recruited),
            }
        ]
        for country, day in zip(story.transits, story.transit_dates, strict=False):
            events.append(
                {
                    "type": "Transit",
                    "person_external_id": person_id,
                    "country": country,
                    "started_on": _date(day),
                }
            )
        identified = max(identified_on, story.exploitation_start)
        events.append(
            {
                "type": "Exploitation",
                "person_external_id": person_id,
                "country": story.destination,
                "city": story.exploitation_city,
                "started_on": _date(story.exploitation_start),
                "ended_on": _date(min(story.exploitation_end, identified)),
            }
        )
        events.append(
            {
                "type": "Identification",
                "person_external_id": person_id,
                "country": org.country,
                "started_on": _date(identified),
            }
        )
        return events

    def _consents(self, person_id: str, opened: int, caseworker: str) -> list[dict[str, Any]]:
        rng = self.rng
        consents: list[dict[str, Any]] = []
        # one consent form at intake, with a box per purpose
        day = min(opened + _one(rng, (0, 0, 0, 1, 2, 3)), _REF)
        recorded_on = _date(day)
        for purpose, asked, yes in _CONSENT_PURPOSES:
            if rng.random() >= asked:
                continue
            given = rng.random() < yes
            consents.append(
                {
                    "person_external_id": person_id,
                    "purpose": purpose,
                    "given": given,
                    "recorded_on": recorded_on,
                    "recorded_by": caseworker,
                }
            )
            if given and rng.random() < 0.03:
                later = day + _between(rng, 10, 500)
                if later <= _REF:
                    consents.append(
                        {
                            "person_external_id": person_id,
                            "purpose": purpose,
                            "given": False,
                            "recorded_on": _date(later),
                            "recorded_by": caseworker,
                        }
                    )
        return consents

    def _services(self, count: int) -> list[str]:
        services: list[str] = []
        for _ in range(count):
            service = _SERVICES.pick(self.rng)
            if service not in services:
                services.append(service)
        return services

    def _referrals(
        self, appearance: _Appearance, opened: int, caseworker: str
    ) -> list[dict[str, Any]]:
        rng = self.rng
        org = appearance.org
        referrals: list[dict[str, Any]] = []
        if appearance.referred_by is not None and appearance.referred_on is not None:
            other = _ORG_BY_SLUG[appearance.referred_by]
            referrals.append(
                {
                    "direction": "Incoming",
                    "from_organisation": other.slug if rng.random() < 0.7 else other.name,
                    "to_organisation": org.slug,
                    "referred_on": _date(appearance.referred_on),
                    "reason": "MigrationOrChangeOfLocation"
                    if other.country != org.country
                    else "AdditionalServicesRequired",
                    "services": self._services(_between(rng, 1, 3)),
                    "status": "Accepted",
                }
            )
        elif rng.random() < 0.3:
            referrals.append(
                {
                    "direction": "Incoming",
                    "from_organisation": _one(rng, _PARTNERS_IN),
                    "to_organisation": org.slug,
                    "referred_on": _date(opened - _between(rng, 0, 5)),
                    "reason": _one(rng, ("AdditionalServicesRequired", "Other")),
                    "services": self._services(_between(rng, 0, 2)),
                    "status": "Accepted",
                }
            )
        for slug, day in appearance.referred_to:
            other = _ORG_BY_SLUG[slug]
            referrals.append(
                {
                    "direction": "Outgoing",
                    "from_organisation": org.slug,
                    "to_organisation": slug if rng.random() < 0.7 else other.name,
                    "referred_on": _date(day),
                    "reason": "MigrationOrChangeOfLocation"
                    if other.country != org.country
                    else "AdditionalServicesRequired",
                    "services": self._services(_between(rng, 1, 3)),
                    "status": "Accepted" if day + 30 < _REF else "Requested",
                    "referring_case_worker": caseworker,
                }
            )
        for _ in range(_OUTGOING_COUNT.pick(rng)):
            day = min(opened + _between(rng, 0, 180), _REF)
            referrals.append(
                {
                    "direction": "Outgoing",
                    "from_organisation": org.slug,
                    "to_organisation": _one(rng, _PARTNERS_OUT),
                    "referred_on": _date(day),
                    "reason": "AdditionalServicesRequired",
                    "services": self._services(_between(rng, 1, 3)),
                    "status": _REFERRAL_STATUS.pick(rng) if day + 30 < _REF else "Requested",
                    "referring_case_worker": caseworker,
                }
            )
        return referrals

    def _plan(self, person_id: str, org: _Org, story: _Story, opened: int) -> dict[str, Any]:
        rng = self.rng
        if "SexualExploitation" in story.exploitation_types:
            kind = _one(rng, ("SexualExploitationRehabilitation", "SocialCare", "Health"))
        elif "ForcedLabour" in story.exploitation_types:
            kind = _one(rng, ("LabourExploitationRehabilitation", "Legal", "Livelihood"))
        else:
            kind = _one(rng, ("SocialCare", "Legal", "Education", "Health"))
        start = min(opened + _between(rng, 0, 14), _REF)
        planned_end = start + _between(rng, 90, 365)
        services = []
        for service in self._services(_between(rng, 1, 4)):
            begin = min(start + _between(rng, 0, 30), _REF)
            end = begin + _between(rng, 7, 200)
            services.append(
                {
                    "service": service,
                    "provider": org.slug if rng.random() < 0.6 else _one(rng, _PARTNERS_OUT),
                    "started_on": _date(begin),
                    "ended_on": _date(end) if end <= _REF else None,
                }
            )
        actual_end = planned_end + _between(rng, -30, 60)
        return {
            "person_external_id": person_id,
            "type": kind,
            "objectives": _OBJECTIVES.get(kind, "Recovery and independence."),
            "action_plan": _one(rng, _ACTION_PLANS),
            "planned_end_on": dt.date.fromordinal(planned_end),
            "actual_end_on": _date(actual_end) if actual_end <= _REF else None,
            "services": services,
        }

    def _notes(self, opened: int, caseworker: str) -> list[dict[str, Any]]:
        rng = self.rng
        notes: list[dict[str, Any]] = []
        for _ in range(_one(rng, (0, 1, 1, 2, 2, 3, 4))):
            day = min(opened + int(rng.expovariate(1 / 60)), _REF)
            notes.append(
                {"text": _one(rng, _NOTES), "author": caseworker, "written_on": _date(day)}
            )
        notes.sort(key=lambda note: note["written_on"])
        return notes

    def _perpetrator_participant(
        self, perpetrator: _Perpetrator, person_id: str, org: _Org, noisy: bool
    ) -> dict[str, Any]:
        rng = self.rng
        if perpetrator.person is None:
            person: dict[str, Any] = {"external_id": person_id}
        else:
            person = {
                "external_id": person_id,
                **self._identity(perpetrator.person, org, noisy, victim=False),
            }
        context: dict[str, Any] = {
            "kind": perpetrator.kind,
            "roles": list(perpetrator.roles),
            "company_name": perpetrator.company_name,
            "sex": perpetrator.sex if perpetrator.kind == "Individual" else None,
            "age_band": perpetrator.age_band
            if perpetrator.kind == "Individual" and rng.random() < 0.7
            else None,
            "nationality": [perpetrator.nationality] if rng.random() < 0.8 else [],
        }
        return {"role": "Perpetrator", "person": person, "perpetrator": context}

    def _proceeding(
        self, perpetrator_id: str, org: _Org, story: _Story, opened: int
    ) -> dict[str, Any]:
        rng = self.rng
        on_route = org.country in (story.source, story.destination)
        jurisdiction = org.country if on_route and rng.random() < 0.75 else story.destination
        charges = _CHARGES.get(jurisdiction, ("Trafficking in persons",))
        started = min(opened + _between(rng, 0, 120), _REF)
        elapsed = _REF - started
        stage = (
            _one(rng, ("Investigation", "Investigation", "Prosecution"))
            if elapsed < 365
            else _one(rng, ("Prosecution", "Trial", "Closed", "Closed", "Appeal"))
            if elapsed < 1100
            else _one(rng, ("Closed", "Closed", "Closed", "Appeal", "Trial"))
        )
        proceeding: dict[str, Any] = {
            "perpetrator_external_id": perpetrator_id,
            "jurisdiction": jurisdiction,
            "stage": stage,
            "charges": rng.sample(charges, _between(rng, 1, len(charges))),
            "opened_on": _date(started),
            "outcome": "Pending",
        }
        if stage in ("Closed", "Appeal"):
            outcome = _PROCEEDING_OUTCOME.pick(rng)
            decided = started + _between(rng, 200, max(201, elapsed))
            proceeding["outcome"] = outcome
            proceeding["outcome_on"] = _date(decided)
            if outcome in ("Convicted", "PleaAgreement"):
                proceeding["sentence_months"] = _one(
                    rng, (6, 12, 18, 24, 30, 36, 48, 60, 72, 96, 120, 180)
                )
        return proceeding


def _earlier_nrm_draws(rng: random.Random, opened: int) -> None:
    """The draws the demo's first model of the NRM (two dated decisions) took from the
    world's stream, still taken so that everything else the demo generates stays the same;
    the NRM path itself comes from the person's own stream."""
    rg_day = opened + _between(rng, 2, 10)
    if rng.random() < 0.9 and rg_day <= _REF:
        _between(rng, 90, 700)
        rng.random()


def _mechanism_statuses(
    path: MechanismPath, statuses: list[dict[str, Any]], person_id: str, org: _Org
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The decisions of the person's path through the mechanism, each with the reference of
    the referral it answers and its grounds, and the status the latest decision implies."""
    decisions: list[dict[str, Any]] = []
    for decision in path.decisions:
        decided = decision.outcome != "Pending"
        decisions.append(
            {
                "person_external_id": person_id,
                "decision_type": decision.decision_type,
                "outcome": decision.outcome,
                "decided_by": DECIDED_BY[path.mechanism] if decided else None,
                "decided_on": _date(decision.day),
                "jurisdiction": path.jurisdiction,
                "grounds": decision.grounds,
                "referral_reference": path.reference,
            }
        )
    decided_ones = [d for d in path.decisions if d.outcome != "Pending"]
    if not decided_ones:
        return statuses, decisions
    final = decided_ones[-1]
    status = None
    if final.outcome == "Negative":
        status = "NotAVictimOfTrafficking"
    elif final.decision_type in ("ConclusiveGrounds", "FormalIdentification"):
        status = "ActualVictimOfTrafficking"
    if status is not None:
        decided_on = _date(final.day)
        assertion = {
            "status": status,
            "decided_by_type": "NonPoliceGovernmentalOrganization",
            "asserted_by": "gb-nra" if path.mechanism == UK else org.slug,
            "asserted_on": decided_on,
        }
        if decided_on >= statuses[0]["asserted_on"]:
            statuses = [*statuses, assertion]
        else:  # decided before this organisation met the person
            statuses = [assertion, {**statuses[0], "status": status}]
    return statuses, decisions


def _mechanism_referrals(
    path: MechanismPath, org: _Org, person_id: str, caseworker: str
) -> list[dict[str, Any]]:
    """The person's referral to the national mechanism as this organisation records it
    (every record of the person in the country holds it, with the mechanism's reference),
    and, in the first responder's record, the service referral for support after a positive
    first decision."""
    referrer = org.slug == path.referrer
    referral: dict[str, Any] = {
        "direction": "Outgoing",
        "person_external_id": person_id,
        "reference": path.reference,
        "mechanism": path.mechanism,
        "stage": path.stage,
        "stage_entered_on": _date(path.entered),
        "due_on": path.due,
        "from_organisation": path.referrer,
        "to_organisation": path.name,
        "referred_on": None if path.referred_on is None else _date(path.referred_on),
        "reason": "Other",
        "status": "Completed" if path.terminal else "Requested",
        "responded_on": _date(path.entered) if path.terminal else None,
        "referring_case_worker": caseworker if referrer else None,
    }
    if path.withdrawal_reason is not None:
        referral["details"] = path.withdrawal_reason
    referrals = [referral]
    if referrer and path.support_referred is not None:
        answered = path.support_answered
        referrals.append(
            {
                "direction": "Outgoing",
                "person_external_id": person_id,
                "reference": f"svc-{path.reference}",
                "provider": SUPPORT_PROVIDER[path.mechanism],
                "from_organisation": org.slug,
                "to_organisation": SUPPORT_PROVIDER[path.mechanism],
                "referred_on": _date(path.support_referred),
                "reason": "AdditionalServicesRequired",
                "services": list(SUPPORT_SERVICES[path.mechanism]),
                "status": "Requested" if answered is None else "Accepted",
                "responded_on": None if answered is None else _date(answered),
                "referring_case_worker": caseworker,
            }
        )
    return referrals


def _consent_to_referral(
    consents: list[dict[str, Any]], path: MechanismPath, birth: dt.date
) -> None:
    """The first responder asked an adult before referring them to the NRM (a child is
    referred without consent): the answer on file matches what happened."""
    if not consents:
        return
    on = consents[0]["recorded_on"]
    if path.referred_on is not None:
        given, on = True, min(on, _date(path.referred_on))
    elif path.stage != path.initial_stage:
        given, on = False, min(on, _date(path.entered))
    else:
        return  # not asked yet
    if _age(birth, on) < 18:
        return
    kept = [c for c in consents if c["purpose"] != "Referral"]
    kept.append(
        {
            "person_external_id": consents[0]["person_external_id"],
            "purpose": "Referral",
            "given": given,
            "recorded_on": on,
            "recorded_by": consents[0]["recorded_by"],
        }
    )
    consents[:] = kept


def _shift_year(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _status_for_age(days: int) -> _Choice[str]:
    return _STATUS_RECENT if days < 180 else _STATUS_MIDDLE if days < 730 else _STATUS_OLD


# --- building the models --------------------------------------------------------------
#
# Validating every case with ``model_validate`` costs more than generating it, and the
# generator only ever produces canonical codes, ISO codes and past dates, so the models are
# assembled directly, as ``model_construct`` does (without its per-field overhead). A
# deterministic sample of the cases is validated as well, and must come out identical.

_NESTED: dict[type[Record], dict[str, type[Record]]] = {
    CaseRecord: {
        "participants": Participant,
        "events": TraffickingEvent,
        "consents": ConsentRecord,
        "referrals": Referral,
        "support_plans": SupportPlan,
        "notes": Note,
        "identification_decisions": IdentificationDecision,
        "criminal_proceedings": CriminalProceeding,
    },
    Participant: {
        "person": PersonRecord,
        "victim": VictimContext,
        "perpetrator": PerpetratorContext,
    },
    PersonRecord: {"identifiers": Identifier},
    VictimContext: {"trafficking_status": StatusAssertion},
    SupportPlan: {"services": ServiceProvision},
}
_REQUIRED = object()
_Template = tuple[
    dict[str, Any], tuple[str, ...], tuple[str, ...], tuple[tuple[str, type[Record]], ...]
]
_TEMPLATES: dict[type[Record], _Template] = {}


def _template(cls: type[Record]) -> _Template:
    """Each field in order with its default; list, required and nested-model fields."""
    found = _TEMPLATES.get(cls)
    if found is None:
        defaults: dict[str, Any] = {}
        lists: list[str] = []
        required: list[str] = []
        for name, info in cls.model_fields.items():
            if info.is_required():
                defaults[name] = _REQUIRED
                required.append(name)
                continue
            default = info.get_default(call_default_factory=True, validated_data={})
            defaults[name] = default
            if isinstance(default, list):
                lists.append(name)
        nested = tuple(_NESTED.get(cls, {}).items())
        found = _TEMPLATES[cls] = (defaults, tuple(lists), tuple(required), nested)
    return found


_new_model = object.__new__
_set = object.__setattr__


def _construct(cls: type[R], values: dict[str, Any]) -> R:
    """``cls.model_construct(**values)``, recursively (lists in ``values`` are kept).

    Like ``model_construct`` it checks no values (``_case`` validates a sample), but it
    does refuse a missing required field.
    """
    defaults, lists, required, nested = _template(cls)
    data = {**defaults, **values}
    for name in lists:
        if name not in values:
            data[name] = []
    for name, kind in nested:
        value = data[name]
        if isinstance(value, list):
            data[name] = [_construct(kind, item) for item in value]
        elif value is not None:
            data[name] = _construct(kind, value)
    for name in required:
        if data[name] is _REQUIRED:
            raise ValueError(f"{cls.__name__} lacks the required field {name!r}")
    model: R = _new_model(cls)
    _set(model, "__dict__", data)
    _set(model, "__pydantic_fields_set__", set(values))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


# The first cases and then every n-th are also validated through the schema.
_VALIDATE_FIRST = 50
_VALIDATE_EVERY = 50


def _case(document: dict[str, Any], index: int) -> CaseRecord:
    case = _construct(CaseRecord, document)
    if index < _VALIDATE_FIRST or index % _VALIDATE_EVERY == 0:
        validated = CaseRecord.model_validate(document)
        if validated != case:
            raise RuntimeError(f"generated case {case.external_id} is not canonical")
    return case


# --- the generator ---------------------------------------------------------------------


def generate(n_cases: int, seed: int) -> Iterator[tuple[CaseRecord, list[TruthRow]]]:
    """``n_cases`` synthetic cases (duplicates included), each with its truth rows.

    A streaming generator: memory stays flat however many cases are asked for. The same
    ``(n_cases, seed)`` always gives the same cases in the same order.
    """
    if n_cases < 0:
        raise ValueError("n_cases must not be negative")
    world = _World(seed)
    rng = world.rng
    # Planned records wait in a small pool and are built in random order, so that the
    # records of one person are spread out (and only light plans, not cases, are kept).
    pending: list[tuple[_Story, _Appearance]] = []
    planned = produced = 0
    while produced < n_cases:
        while planned < n_cases and len(pending) < _SHUFFLE_BUFFER:
            story, appearances = world.situation()
            for appearance in appearances[: n_cases - planned]:
                pending.append((story, appearance))
                planned += 1
        index = _below(rng, len(pending))
        pending[index], pending[-1] = pending[-1], pending[index]
        story, appearance = pending.pop()
        document, truth = world.record(appearance, story)
        case = _case(document, produced)
        produced += 1
        yield case, truth
