"""Adversarial tables for ``tiphub estimate`` and ``tiphub link`` (and ``linkage encode``).

Each generator yields the fixed hostile cases first (the ones the brief names: huge and
non-finite counts, 1 and 16 lists, hostile options, 3,000 identical records, encoded files
…), then seeded random ones: a plausible table, one or two damaging edits, and sometimes a
hostile option.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.fuzz import imports, markers
from tests.fuzz.harness import Case, Invocation
from tests.fuzz.seeds import LINK_COLUMNS, Seeds, csv_text

ESTIMATE_TIMEOUT = 60.0
LINK_TIMEOUT = 120.0
Rows = list[list[str]]

# ------------------------------------------------------------------------------ estimate


def capture_rows(rng: random.Random, lists: int, per_person: bool = False) -> Rows:
    names = [f"L{i}" for i in range(lists)] if rng.random() < 0.5 else [chr(65 + i) for i in range(lists)]
    if per_person:
        rows = [names]
        for _ in range(rng.randint(50, 400)):
            history = [str(int(rng.random() < 0.4)) for _ in names]
            if "1" not in history:
                history[rng.randrange(lists)] = "1"
            rows.append(history)
        return rows
    rows = [[*names, "count"]]
    for mask in range(1, 1 << lists):
        if lists > 6 and rng.random() < 0.8:
            continue
        count = rng.choice((0, 1, 2, 5, 17, 60, 250, 1000)) if bin(mask).count("1") > 1 else rng.randint(20, 900)
        rows.append([*(str(mask >> i & 1) for i in range(lists)), str(count)])
    return rows


def _with_count(rows: Rows, values: list[str]) -> Rows:
    for row, value in zip(rows[1:], values, strict=False):
        row[-1] = value
    return rows


def _estimate_case(name: str, make: Callable[[random.Random], tuple[str | bytes, list[str]]], timeout: float = ESTIMATE_TIMEOUT, seed: int = 0) -> Case:
    def build(folder: Path) -> Invocation:
        rng = random.Random(f"{seed}:estimate:{name}")
        content, options = make(rng)
        path = folder / "histories.csv"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
        return _estimate_invocation(path, options, folder)

    return Case("estimate", name, build, timeout=timeout)


def _estimate_invocation(path: Path, options: list[str], folder: Path) -> Invocation:
    options = [
        str(folder / value) if i and options[i - 1] == "--report" and not value.startswith("/") else value
        for i, value in enumerate(options)
    ]
    if options[:1] == ["robustness"]:
        argv = ["estimate", "robustness", str(path), *options[1:]]
    else:
        argv = ["estimate", str(path), *options]
    reports = tuple(Path(options[i + 1]) for i, option in enumerate(options[:-1]) if option == "--report")
    return Invocation(tuple(argv), outputs=reports, searched=reports)


def _table(lists: int, counts: list[str] | None = None, rng_seed: int = 1) -> Rows:
    rows = capture_rows(random.Random(rng_seed), lists)
    return _with_count(rows, counts) if counts else rows


def estimate_specials() -> list[tuple[str, Callable[[random.Random], tuple[str | bytes, list[str]]]]]:
    def three(counts: list[str] | None) -> str:
        return csv_text(_table(3, counts))

    specials: list[tuple[str, Callable[[random.Random], tuple[str | bytes, list[str]]]]] = [
        ("count-1e18", lambda r: (three(["1000000000000000000"]), [])),
        ("count-1e19", lambda r: (three(["10000000000000000000"]), [])),
        ("count-1e300", lambda r: (three(["1e300"]), [])),
        ("count-9e18-twice", lambda r: (three(["9000000000000000000", "9000000000000000000"]), [])),
        ("count-9e18-twice-bootstrap", lambda r: (three(["9000000000000000000", "9000000000000000000"]), ["--bootstrap", "20"])),
        ("count-5000-digits", lambda r: (three(["9" * 5000]), [])),
        ("count-negative", lambda r: (three(["-5"]), [])),
        ("count-fractional", lambda r: (three(["2.5"]), [])),
        ("count-nan", lambda r: (three(["NaN"]), [])),
        ("count-inf", lambda r: (three(["inf"]), [])),
        ("count-minus-inf", lambda r: (three(["-inf"]), [])),
        ("count-empty", lambda r: (three([""]), [])),
        ("count-marker", lambda r: (three([markers.FIRST_NAMES[0]]), [])),
        ("cell-two", lambda r: (csv_text(_cell(_table(3), "2")), [])),
        ("cell-minus-one", lambda r: (csv_text(_cell(_table(3), "-1")), [])),
        ("cell-yes", lambda r: (csv_text(_cell(_table(3), "yes")), [])),
        ("cell-one-point-zero", lambda r: (csv_text(_cell(_table(3), "1.0")), [])),
        ("cell-marker", lambda r: (csv_text(_cell(_table(3), markers.FAMILY_NAMES[1])), [])),
        ("cell-phone-marker", lambda r: (csv_text(_cell(_table(3), markers.PHONES[0])), [])),
        ("one-list", lambda r: ("A,count\n1,50\n", [])),
        ("sixteen-lists", lambda r: (csv_text(_table(16, rng_seed=3)), [])),
        ("sixteen-lists-aic-stepwise", lambda r: (csv_text(_table(16, rng_seed=3)), ["--method", "aic-stepwise"])),
        ("sixteen-lists-bic", lambda r: (csv_text(_table(16, rng_seed=3)), ["--method", "bic"])),
        ("sixteen-lists-bootstrap", lambda r: (csv_text(_table(16, rng_seed=3)), ["--bootstrap", "50"])),
        ("seventeen-lists", lambda r: (csv_text(_table(17, rng_seed=4)), [])),
        ("sixty-lists", lambda r: (",".join(f"L{i}" for i in range(60)) + ",count\n" + ",".join("1" for _ in range(60)) + ",5\n", [])),
        ("empty-file", lambda r: ("", [])),
        ("header-only", lambda r: ("A,B,C,count\n", [])),
        ("count-column-only", lambda r: ("count\n5\n7\n", [])),
        ("duplicated-list-column", lambda r: ("A,A,B,count\n1,0,0,5\n0,1,1,6\n1,1,1,2\n0,0,1,9\n", [])),
        ("duplicated-count-column", lambda r: ("A,B,count,count\n1,0,5,6\n0,1,7,8\n1,1,2,3\n", [])),
        ("empty-column-names", lambda r: (",,count\n1,0,5\n0,1,7\n1,1,2\n", [])),
        ("history-all-zero", lambda r: ("A,B,C,count\n0,0,0,500\n1,0,0,5\n0,1,0,6\n1,1,0,1\n", [])),
        ("all-counts-zero", lambda r: (three(["0"] * 7), [])),
        ("list-nobody-on", lambda r: ("A,B,C,count\n1,0,0,5\n0,1,0,6\n1,1,0,1\n", [])),
        ("duplicate-histories", lambda r: ("A,B,count\n1,0,5\n1,0,6\n0,1,7\n1,1,2\n1,1,3\n", [])),
        ("ragged-rows", lambda r: ("A,B,count\n1,0,5,9,9\n0,1\n1,1,2\n", [])),
        ("per-person-100k", lambda r: ("A,B,C\n" + "1,0,1\n0,1,1\n1,1,0\n1,0,0\n" * 25_000, [])),
        ("junk-bytes", lambda r: (bytes(r.randrange(256) for _ in range(3000)), [])),
        ("utf16", lambda r: (three(None).encode("utf-16"), [])),
        ("nul-cells", lambda r: ("A,B,count\n1,\x00,5\n0,1,\x00\n", [])),
        ("markers-everywhere", lambda r: (csv_text([["A", "B", "count"], *([r.choice(markers.ALL_VALUES) for _ in range(3)] for _ in range(4))]), [])),
        ("bootstrap-minus-5", lambda r: (three(None), ["--bootstrap", "-5"])),
        ("classes-0", lambda r: (three(None), ["--method", "lcmcr", "--classes", "0", "--burnin", "50", "--samples", "20", "--thinning", "2"])),
        ("classes-minus-1", lambda r: (three(None), ["--method", "lcmcr", "--classes", "-1", "--burnin", "50", "--samples", "20", "--thinning", "2"])),
        ("samples-minus-1", lambda r: (three(None), ["--method", "lcmcr", "--burnin", "50", "--samples", "-1", "--thinning", "2"])),
        ("samples-0", lambda r: (three(None), ["--method", "lcmcr", "--burnin", "50", "--samples", "0", "--thinning", "2"])),
        ("thinning-0", lambda r: (three(None), ["--method", "lcmcr", "--burnin", "50", "--samples", "20", "--thinning", "0"])),
        ("burnin-minus-1", lambda r: (three(None), ["--method", "lcmcr", "--burnin", "-1", "--samples", "20", "--thinning", "2"])),
        ("method-bogus", lambda r: (three(None), ["--method", "bogus"])),
        ("fixed-unknown-term", lambda r: (three(None), ["--method", "fixed", "--model", "A:Z"])),
        ("fixed-repeated-term", lambda r: (three(None), ["--method", "fixed", "--model", "A:A,B:B"])),
        ("fixed-colons", lambda r: (three(None), ["--method", "fixed", "--model", ":,::"])),
        ("pthresh-minus-1", lambda r: (three(None), ["--pthresh", "-1"])),
        ("pthresh-nan", lambda r: (three(None), ["--pthresh", "nan"])),
        ("max-order-minus-1", lambda r: (three(None), ["--method", "bic", "--max-order", "-1"])),
        ("max-order-100", lambda r: (three(None), ["--method", "bic", "--max-order", "100"])),
        ("merge-unknown", lambda r: (three(None), ["--merge", "A+Z"])),
        ("merge-self", lambda r: (three(None), ["--merge", "A+A"])),
        ("merge-one", lambda r: (three(None), ["--merge", "A"])),
        ("omit-all", lambda r: (three(None), ["--omit", "A", "--omit", "B", "--omit", "C"])),
        ("omit-unknown", lambda r: (three(None), ["--omit", "Z"])),
        ("strata-missing", lambda r: (three(None), ["--strata", "region"])),
        ("seed-huge", lambda r: (three(None), ["--seed", "9" * 30])),
        ("seed-negative-bootstrap", lambda r: (three(None), ["--seed", "-1", "--bootstrap", "10"])),
        ("profits-bogus", lambda r: (three(None), ["--profits", "sexual=1e999,=,x"])),
        ("profits-unknown-form", lambda r: (three(None), ["--profits", "nonsense=5"])),
        ("profits-edition", lambda r: (three(None), ["--profits", "sexual=5", "--edition", "1999"])),
        ("profits-region", lambda r: (three(None), ["--profits", "sexual=5", "--region", "Atlantis"])),
        ("profits-store", lambda r: (three(None), ["--profits", "store"])),
        ("report-html", lambda r: (three(None), ["--report", "report.html", "--json"])),
        ("robustness-report", lambda r: (three(None), ["robustness", "--report", "report.html"])),
        ("robustness-one-list", lambda r: ("A,count\n1,5\n", ["robustness"])),
    ]
    return specials


def _cell(rows: Rows, value: str) -> Rows:
    rows[2][1] = value
    return rows


def _strata_rows(rng: random.Random) -> tuple[Rows, str]:
    rows = capture_rows(rng, 3)
    rows[0].append("region")
    for row in rows[1:]:
        row.append(rng.choice(("north", "south", "")))
    return rows, "region"


VALUE_EDITS: dict[str, Callable[[Rows, random.Random], Rows]] = {
    "huge-count": lambda rows, r: _edit_count(rows, r, r.choice(("1e18", "1e19", "1e300", "9000000000000000000", "9" * 40))),
    "bad-count": lambda rows, r: _edit_count(rows, r, r.choice(("-3", "0.5", "NaN", "inf", "", " 7 ", "0x10", "1_000", "七"))),
    "non-binary": lambda rows, r: _edit_cell(rows, r, r.choice(("2", "-1", "yes", "1.0", "", "O", "l", "TRUE"))),
    "marker-cell": lambda rows, r: _edit_cell(rows, r, r.choice(markers.ALL_VALUES)),
    "drop-column": lambda rows, r: imports.remove_column(rows, r),
    "dup-column": lambda rows, r: imports.dup_column(rows, r),
    "dup-row": lambda rows, r: imports.dup_row(rows, r),
    "ragged-row": lambda rows, r: imports.ragged_row(rows, r),
    "header-removed": lambda rows, r: rows[1:] or rows,
    "zero-everything": lambda rows, r: [rows[0], *([*row[:-1], "0"] for row in rows[1:])],
}

HOSTILE_OPTIONS: tuple[tuple[str, ...], ...] = (
    ("--bootstrap", "-5"),
    ("--bootstrap", "7"),
    ("--method", "main"),
    ("--method", "aic-stepwise"),
    ("--method", "bic"),
    ("--method", "bic", "--max-order", "0"),
    ("--method", "lcmcr", "--classes", "0", "--burnin", "30", "--samples", "10", "--thinning", "1"),
    ("--method", "lcmcr", "--burnin", "30", "--samples", "-1", "--thinning", "1"),
    ("--method", "lcmcr", "--burnin", "30", "--samples", "10", "--thinning", "0"),
    ("--method", "fixed", "--model", "A:B"),
    ("--pthresh", "1.5"),
    ("--merge", "A+B"),
    ("--omit", "A"),
    ("--json",),
    ("--report", "report.html"),
)


def _edit_count(rows: Rows, rng: random.Random, value: str) -> Rows:
    if len(rows) > 1 and rows[0] and rows[0][-1] == "count":
        rows[rng.randrange(1, len(rows))][-1] = value
    return rows


def _edit_cell(rows: Rows, rng: random.Random, value: str) -> Rows:
    if len(rows) > 1 and len(rows[0]) > 1:
        row = rows[rng.randrange(1, len(rows))]
        if len(row) > 1:
            row[rng.randrange(len(row) - 1)] = value
    return rows


def estimate_cases(count: int, seed: int) -> Iterator[Case]:
    specials = estimate_specials()
    if count < len(specials) * 2:
        specials = random.Random(f"{seed}:estimate").sample(specials, min(len(specials), count // 2))
    for name, make in specials:
        yield _estimate_case(name, make, seed=seed)
    for index in range(count - len(specials)):

        def build(folder: Path, index: int = index) -> Invocation:
            rng = random.Random(f"{seed}:estimate:{index}")
            names = []
            options: list[str] = []
            if rng.random() < 0.1:
                rows, column = _strata_rows(rng)
                options += ["--strata", column]
                names.append("strata")
            else:
                per_person = rng.random() < 0.15
                rows = capture_rows(rng, rng.choice((2, 3, 3, 4, 5, 6)), per_person)
                names.append(f"{len(rows[0]) - (not per_person)}-lists" + ("-per-person" if per_person else ""))
            for edit in rng.sample(sorted(VALUE_EDITS), rng.choice((0, 1, 1, 2))):
                rows = VALUE_EDITS[edit](rows, rng) or [["A"]]
                names.append(edit)
            data = csv_text(rows).encode("utf-8", "surrogatepass")
            if rng.random() < 0.15:
                byte_edit = rng.choice(sorted(imports.BYTE_MUTATIONS))
                data = imports.BYTE_MUTATIONS[byte_edit](data, rng)
                names.append(byte_edit)
            if rng.random() < 0.4:
                chosen = list(rng.choice(HOSTILE_OPTIONS))
                options += chosen
                names.append(" ".join(chosen))
            path = folder / "histories.csv"
            path.write_bytes(data)
            invocation = _estimate_invocation(path, options, folder)
            return dataclasses.replace(invocation, mutation="+".join(names))

        yield Case("estimate", "random", build, timeout=ESTIMATE_TIMEOUT)


# ------------------------------------------------------------------------------ link


def seeds_link_rows(seeds: Seeds) -> Rows:
    import csv

    with seeds.link.open(encoding="utf-8", newline="") as handle:
        return [list(row) for row in csv.reader(handle)]


def _column(rows: Rows, name: str) -> int:
    return rows[0].index(name)


def _set_column(rows: Rows, name: str, values: Callable[[int], str]) -> Rows:
    j = _column(rows, name)
    for i, row in enumerate(rows[1:], start=1):
        row[j] = values(i)
    return rows


@dataclasses.dataclass(frozen=True)
class LinkSpec:
    """What a link case writes and runs; ``files`` are CSV rows or raw bytes by file name."""

    files: dict[str, Rows | bytes]
    options: tuple[str, ...] = ("--no-review",)
    command: tuple[str, ...] = ("link",)
    uses_database: bool = False
    copy_encoded: bool = False
    sidecar: dict[str, str | bytes] = dataclasses.field(default_factory=dict)


def link_specials(seeds: Seeds) -> list[tuple[str, Callable[[Rows, random.Random], LinkSpec]]]:
    header = list(LINK_COLUMNS)

    def one(rows: Rows) -> dict[str, Rows | bytes]:
        return {"records.csv": rows}

    def identical(rows: Rows, r: random.Random) -> LinkSpec:
        person = rows[1][2:]
        return LinkSpec(one([header, *([f"X{i}", "ab"[i % 2], *person] for i in range(3000))]))

    def encoded(options: tuple[str, ...], edit: Callable[[bytes], bytes] | None = None, sidecar: dict[str, str | bytes] | None = None) -> Callable[[Rows, random.Random], LinkSpec]:
        def make(rows: Rows, r: random.Random) -> LinkSpec:
            first = seeds.encoded[0].read_bytes()
            return LinkSpec(
                {"enc-a.csv": edit(first) if edit else first, "enc-b.csv": seeds.encoded[1].read_bytes()},
                options=("--encoded", *options),
                copy_encoded=True,
                sidecar=sidecar or {},
            )

        return make

    def sidecar_config(change: Callable[[dict[str, Any]], None]) -> bytes:
        data = json.loads(Path(f"{seeds.encoded[0]}.json").read_text())
        change(data)
        return json.dumps(data).encode()

    def encode_command(rows: Rows, secret: bytes | None, data: bytes | None = None) -> LinkSpec:
        files: dict[str, Rows | bytes] = {"records.csv": data if data is not None else rows}
        if secret is not None:
            files["secret.key"] = secret
        return LinkSpec(files, options=(), command=("linkage", "encode"))

    specials: list[tuple[str, Callable[[Rows, random.Random], LinkSpec]]] = [
        ("header-only", lambda rows, r: LinkSpec(one([header]))),
        ("one-record", lambda rows, r: LinkSpec(one(rows[:2]))),
        ("two-records", lambda rows, r: LinkSpec(one(rows[:3]))),
        ("two-records-one-list", lambda rows, r: LinkSpec(one([header, [*rows[1][:1], "a", *rows[1][2:]], [*rows[2][:1], "a", *rows[2][2:]]]))),
        ("no-identity-values", lambda rows, r: LinkSpec(one([header, *([row[0], row[1], *([""] * (len(header) - 2))] for row in rows[1:])]))),
        ("3000-identical-records", identical),
        ("duplicate-ids", lambda rows, r: LinkSpec(one(_set_column(rows, "record_id", lambda i: f"R{i % 7}")))),
        ("empty-record-id", lambda rows, r: LinkSpec(one(_set_column(rows, "record_id", lambda i: "" if i == 5 else f"R{i}")))),
        ("marker-record-ids", lambda rows, r: LinkSpec(one(_set_column(rows, "record_id", lambda i: f"{markers.FIRST_NAMES[i % 3]}-{i}")))),
        ("duplicate-marker-ids", lambda rows, r: LinkSpec(one(_set_column(rows, "record_id", lambda i: markers.FAMILY_NAMES[0])))),
        ("missing-list-column", lambda rows, r: LinkSpec(one([row[:1] + row[2:] for row in rows]))),
        ("missing-record-id-column", lambda rows, r: LinkSpec(one([row[1:] for row in rows]))),
        ("no-identity-columns", lambda rows, r: LinkSpec(one([row[:2] + row[-1:] for row in rows]))),
        ("bad-dates", lambda rows, r: LinkSpec(one(_set_column(rows, "date_of_birth", lambda i: r.choice(("2023-02-30", "1971-13-45", "99999-01-01", "yesterday", "0000", "17/03/1971", "-1971")))))),
        ("marker-in-date", lambda rows, r: LinkSpec(one(_set_column(rows, "date_of_birth", lambda i: markers.FIRST_NAMES[0] if i == 3 else rows[i][4])))),
        ("marker-in-nationality", lambda rows, r: LinkSpec(one(_set_column(rows, "nationality", lambda i: markers.FAMILY_NAMES[1] if i == 4 else rows[i][6])))),
        ("marker-in-sex", lambda rows, r: LinkSpec(one(_set_column(rows, "sex", lambda i: markers.FIRST_NAMES[2] if i == 2 else rows[i][5])))),
        ("names-in-every-column", lambda rows, r: LinkSpec(one([header, *([r.choice(markers.ALL_VALUES) for _ in header] for _ in range(30))]))),
        ("header-less", lambda rows, r: LinkSpec(one(rows[1:]))),
        ("markers-as-header", lambda rows, r: LinkSpec(one([[r.choice(markers.ALL_VALUES) for _ in header], *rows[1:]]))),
        ("utf16", lambda rows, r: LinkSpec({"records.csv": csv_text(rows).encode("utf-16")})),
        ("invalid-utf8", lambda rows, r: LinkSpec({"records.csv": csv_text(rows).encode()[:900] + b"\xff\xfe\xc3\x28" + csv_text(rows).encode()[900:]})),
        ("latin-1", lambda rows, r: LinkSpec({"records.csv": (csv_text(rows) + "R9999,ngo,Zyxmartà,Qwoplenko,,,,,,,,,\r\n").encode("latin-1", "replace")})),
        ("nul-cells", lambda rows, r: LinkSpec(one(_set_column(rows, "given_name", lambda i: "Zy\x00xmarta")))),
        ("huge-cell", lambda rows, r: LinkSpec(one(_set_column(rows, "family_name", lambda i: "Qwoplenko" * 120_000 if i == 1 else rows[i][3])))),
        ("5000-digit-identifier", lambda rows, r: LinkSpec(one(_set_column(rows, "identifier", lambda i: "9" * 5000)))),
        ("formula-cells", lambda rows, r: LinkSpec(one(_set_column(rows, "given_name", lambda i: r.choice(imports.HOSTILE_CELLS[:5]))))),
        ("unterminated-quote", lambda rows, r: LinkSpec({"records.csv": csv_text(rows).encode() + b'R9999,ngo,"Zyxmarta,\r\n'})),
        ("two-files-same-ids", lambda rows, r: LinkSpec({"a.csv": rows, "b.csv": rows})),
        ("one-list-only", lambda rows, r: LinkSpec(one(_set_column(rows, "list", lambda i: "police")))),
        ("every-record-own-list", lambda rows, r: LinkSpec(one(_set_column(rows, "list", lambda i: f"list-{i}")))),
        ("threshold-0", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--threshold", "0"))),
        ("threshold-nan", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--threshold", "nan"))),
        ("threshold-2", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--threshold", "2"))),
        ("backend-bogus", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--backend", "bogus"))),
        ("strata-missing", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--capture-histories", "histories.csv", "--strata", "nonexistent"))),
        ("strata-histories", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--capture-histories", "histories.csv", "--strata", "region"))),
        ("report-links-json", lambda rows, r: LinkSpec(one(rows), options=("--no-review", "--report", "report.html", "--links", "links.csv", "--json"))),
        ("truth-junk", lambda rows, r: LinkSpec({"records.csv": rows, "truth.csv": b"\xff\xfe junk"}, options=("--no-review", "--truth", "truth.csv"))),
        ("truth-markers", lambda rows, r: LinkSpec({"records.csv": rows, "truth.csv": [["record_id", "true_id"], *([row[0], markers.FIRST_NAMES[0]] for row in rows[1:])]}, options=("--no-review", "--truth", "truth.csv", "--report", "report.html"))),
        ("review-queue", lambda rows, r: LinkSpec(one(rows), options=("--review", "--report", "report.html"), uses_database=True)),
        ("database-persons-report", lambda rows, r: LinkSpec({}, options=("--report", "report.html", "--links", "links.csv"), uses_database=True)),
        ("encoded-report", encoded(("--report", "report.html", "--links", "links.csv"))),
        ("encoded-truncated-base64", encoded((), lambda d: d.replace(b"=\r\n", b"\r\n", 3).replace(b"A", b"", 40))),
        ("encoded-not-base64", encoded((), lambda d: d.replace(b"+", b"!", 5))),
        ("encoded-markers-in-ids", encoded(("--report", "report.html"), lambda d: d.replace(b"R00", markers.FIRST_NAMES[0].encode(), 5))),
        ("encoded-missing-sidecar", encoded((), sidecar={"enc-a.csv.json": ""})),
        ("encoded-sidecar-junk", encoded((), sidecar={"enc-a.csv.json": b"{not json"})),
        ("encoded-sidecar-huge-bits", encoded((), sidecar={"enc-a.csv.json": sidecar_config(lambda d: d["config"].update(output_bits=1 << 40))})),
        ("encoded-sidecar-marker", encoded((), sidecar={"enc-a.csv.json": sidecar_config(lambda d: d.update(scheme_id=markers.FIRST_NAMES[0]))})),
        ("encoded-plain-file", lambda rows, r: LinkSpec(one(rows), options=("--encoded",))),
        ("encoded-without-flag", lambda rows, r: LinkSpec({"enc-a.csv": seeds.encoded[0].read_bytes()})),
        ("encode-secret-short", lambda rows, r: encode_command(rows, b"short")),
        ("encode-secret-missing", lambda rows, r: encode_command(rows, None)),
        ("encode-markers-everywhere", lambda rows, r: encode_command([header, *([f"R{i}", "a", *(r.choice(markers.ALL_VALUES) for _ in header[2:])] for i in range(20))], b"0123456789abcdef0123")),
        ("encode-bad-dates", lambda rows, r: encode_command(_set_column(rows, "date_of_birth", lambda i: markers.FIRST_NAMES[0]), b"0123456789abcdef0123")),
        ("encode-ok", lambda rows, r: encode_command(rows, b"0123456789abcdef0123")),
        ("encode-junk", lambda rows, r: encode_command(rows, b"0123456789abcdef0123", bytes(r.randrange(256) for _ in range(2000)))),
    ]
    return specials


LINK_EDITS: dict[str, Callable[[Rows, random.Random], Rows]] = {
    "bad-date": lambda rows, r: _edit_named(rows, r, "date_of_birth", r.choice(("2023-02-30", "1971-3-7", "31/12/1990", "19710317", "1971-00", "ca. 1970", ""))),
    "bad-nationality": lambda rows, r: _edit_named(rows, r, "nationality", r.choice(("XXX", "ro", "Romania", "R0U", ""))),
    "bad-sex": lambda rows, r: _edit_named(rows, r, "sex", r.choice(("x", "2", "unknown", "Feminine", ""))),
    "marker-anywhere": lambda rows, r: _edit_random(rows, r, r.choice(markers.ALL_VALUES)),
    "hostile-cell": lambda rows, r: _edit_random(rows, r, imports.hostile_value(r)),
    "duplicate-id": lambda rows, r: _edit_named(rows, r, "record_id", rows[1][0]),
    "empty-key": lambda rows, r: _edit_named(rows, r, r.choice(("record_id", "list")), ""),
    "dup-row": imports.dup_row,
    "remove-row": imports.remove_row,
    "dup-column": imports.dup_column,
    "remove-column": imports.remove_column,
    "shuffle-columns": imports.shuffle_columns,
    "ragged-row": imports.ragged_row,
    "header-removed": imports.header_removed,
    "many-rows": lambda rows, r: [rows[0], *([f"M{i}", *rows[1 + i % (len(rows) - 1)][1:]] for i in range(r.choice((300, 1500))))],
}
LINK_OPTIONS: tuple[tuple[str, ...], ...] = (
    ("--report", "report.html"),
    ("--links", "links.csv"),
    ("--capture-histories", "histories.csv"),
    ("--json",),
    ("--threshold", "0.5"),
    ("--threshold", "0.999999"),
    ("--capture-histories", "histories.csv", "--strata", "region"),
)


def _edit_named(rows: Rows, rng: random.Random, name: str, value: str) -> Rows:
    if name in rows[0] and len(rows) > 1:
        j = rows[0].index(name)
        row = rows[rng.randrange(1, len(rows))]
        if j < len(row):
            row[j] = value
    return rows


def _edit_random(rows: Rows, rng: random.Random, value: str) -> Rows:
    row = rows[rng.randrange(len(rows))]
    if row:
        row[rng.randrange(len(row))] = value
    return rows


OUTPUT_OPTIONS = {"--output", "--report", "--links", "--capture-histories"}
SEARCHED_OPTIONS = {"--report", "--links"}


def _link_build(spec: LinkSpec, seeds: Seeds, folder: Path) -> Invocation:
    paths: list[str] = []
    for name, content in spec.files.items():
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(csv_text(content).encode("utf-8", "surrogatepass"))
        if name not in ("truth.csv", "secret.key"):
            paths.append(str(path))
    if spec.copy_encoded:
        for name, source in (("enc-a.csv", seeds.encoded[0]), ("enc-b.csv", seeds.encoded[1])):
            (folder / f"{name}.json").write_bytes(Path(f"{source}.json").read_bytes())
    for name, sidecar in spec.sidecar.items():
        if sidecar == "":
            (folder / name).unlink(missing_ok=True)
        else:
            (folder / name).write_bytes(sidecar if isinstance(sidecar, bytes) else sidecar.encode())
    options = list(spec.options)
    if spec.command == ("linkage", "encode"):
        argv = ["linkage", "encode", *paths, "--secret-file", str(folder / "secret.key"), "--output", str(folder / "encoded.csv")]
        outputs = (folder / "encoded.csv", folder / "encoded.csv.json")
        return Invocation(tuple(argv), outputs=outputs, searched=())
    argv = ["link", *paths, *options, "--output", str(folder / "clusters.csv")]
    outputs_list, searched = [folder / "clusters.csv"], []
    for i, option in enumerate(argv[:-1]):
        if option in OUTPUT_OPTIONS and not argv[i + 1].startswith("/"):
            argv[i + 1] = str(folder / argv[i + 1])
        if option in OUTPUT_OPTIONS:
            outputs_list.append(Path(argv[i + 1]))
            if option in SEARCHED_OPTIONS:
                searched.append(Path(argv[i + 1]))
        if option == "--truth":
            argv[i + 1] = str(folder / argv[i + 1])
    return Invocation(tuple(argv), outputs=tuple(outputs_list), searched=tuple(searched))


def link_cases(seeds: Seeds, count: int, seed: int) -> Iterator[Case]:
    base = seeds_link_rows(seeds)
    specials = link_specials(seeds)
    if count < len(specials) * 2:
        specials = random.Random(f"{seed}:link").sample(specials, min(len(specials), count // 2))
    for name, make in specials:

        def build(folder: Path, make: Callable[[Rows, random.Random], LinkSpec] = make, name: str = name) -> Invocation:
            rng = random.Random(f"{seed}:link:{name}")
            spec = make([list(row) for row in base], rng)
            return _link_build(spec, seeds, folder)

        uses_database = name in ("review-queue", "database-persons-report")
        yield Case("link", name, build, checks_database=uses_database, timeout=LINK_TIMEOUT)
    for index in range(count - len(specials)):
        rng = random.Random(f"{seed}:link:{index}")
        review = rng.random() < 0.1

        def build_random(folder: Path, rng: random.Random = rng, review: bool = review) -> Invocation:
            rows = [list(row) for row in base]
            names = []
            for edit in rng.sample(sorted(LINK_EDITS), rng.choice((1, 1, 2))):
                rows = LINK_EDITS[edit](rows, rng) or [["record_id"]]
                names.append(edit)
            data = csv_text(rows).encode("utf-8", "surrogatepass")
            if rng.random() < 0.2:
                byte_edit = rng.choice(sorted(imports.BYTE_MUTATIONS))
                data = imports.BYTE_MUTATIONS[byte_edit](data, rng)
                names.append(byte_edit)
            options = ["--review"] if review else ["--no-review"]
            if review:
                names.append("review")
            if rng.random() < 0.5:
                chosen = list(rng.choice(LINK_OPTIONS))
                options += chosen
                names.append(" ".join(chosen))
            invocation = _link_build(LinkSpec({"records.csv": data}, options=tuple(options)), seeds, folder)
            return dataclasses.replace(invocation, mutation="+".join(names))

        yield Case("link", "random", build_random, checks_database=review, timeout=LINK_TIMEOUT)
