"""``tiphub online``: screen job ads and recruiter pages that a user has collected.

Ingest CSV / JSON Lines files, saved HTML pages and RSS/Atom feeds; screen them for
deceptive-recruitment indicators with a classifier calibrated at the real prevalence;
cluster the templates that networks reuse; check agencies against a licence register; keep
and export the evidence; review, hand over and count. The commands act as the named local
operator and are audited like anyone else. Bad input prints a message naming the file, row
and field on standard error, exits with 2 and stores nothing. Nothing is fetched from the
web unless ``tiphub online fetch`` is given a list of URLs.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

# The command line's shared shell: the database, the named operator, a refusal.
from tiphub.cli.services import _engine, _fail, _operator
from tiphub.cli.text import plural

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from tiphub.cases.access import Principal
    from tiphub.online.ads import Problem

console = Console()
errors = Console(stderr=True)

online_app = typer.Typer(
    help="Detect online: screen job ads for trafficking indicators, cluster templates, "
    "keep the evidence.",
    no_args_is_help=True,
)
evidence_app = typer.Typer(help="Evidence bundles: export them, verify them.", no_args_is_help=True)
review_app = typer.Typer(help="The review queue of flagged ads.", no_args_is_help=True)
register_app = typer.Typer(
    help="The licence register of recruitment agencies that ads are checked against.",
    no_args_is_help=True,
)
online_app.add_typer(evidence_app, name="evidence")
online_app.add_typer(review_app, name="review")
online_app.add_typer(register_app, name="register")

ActingAs = Annotated[str | None, typer.Option("--as", help="Operator name for the audit log.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Organisation = Annotated[
    str | None,
    typer.Option(
        "--organisation",
        help="The organisation whose ads these are (needed when the hub has several).",
    ),
]
Prevalence = Annotated[
    float,
    typer.Option(
        "--prevalence",
        help="Share of ads that are deceptive where these come from; scores are calibrated "
        "to it (EMSCAD: about 0.05).",
    ),
]
Threshold = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="Flag ads whose probability reaches this (default: the one with the best F1 at "
        "the prevalence).",
    ),
]
SHOWN_PROBLEMS = 20
LOCAL_ORGANISATION = "local"


def _say(message: str) -> None:
    errors.print(f"[dim]{message}…[/dim]", highlight=False)


def _print_problems(kind: str, problems: list[Problem]) -> None:
    for problem in problems[:SHOWN_PROBLEMS]:
        errors.print(f"{kind}: {problem}", highlight=False, markup=False)
    if len(problems) > SHOWN_PROBLEMS:
        errors.print(
            f"… and {len(problems) - SHOWN_PROBLEMS:,} more {kind}s (--report FILE lists all)",
            highlight=False,
        )


def _organisation(engine: Engine, operator: Principal, slug: str | None) -> str:
    """The organisation the operator's ads belong to: the one named, the only one, or on a
    new installation a ``local`` one made for the purpose."""
    from tiphub.cases import accounts

    if slug:
        return slug
    known = accounts.list_organisations(engine, operator)
    if len(known) == 1:
        return known[0].slug
    if known:
        _fail(
            "the hub has several organisations; name the one whose ads these are with "
            f"--organisation ({', '.join(org.slug for org in known[:10])})"
        )
    accounts.add_organisation(engine, operator, LOCAL_ORGANISATION, "This installation", None, None)
    errors.print(
        f"Made organisation '{LOCAL_ORGANISATION}' for these ads (`tiphub org add` makes others).",
        highlight=False,
    )
    return LOCAL_ORGANISATION


def _write_report(path: Path, problems: list[tuple[str, Problem]]) -> None:
    from tiphub.exchange.spreadsheet import neutralise
    from tiphub.files import staged_file

    rows = [
        {
            "level": level,
            "file": problem.source,
            "row": problem.row,
            "field": problem.field,
            "message": problem.message,
        }
        for level, problem in problems
    ]
    if path.suffix.lower() == ".json":
        data = json.dumps({"problems": rows}, indent=2).encode()
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, ["level", "file", "row", "field", "message"])
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    key: neutralise(value) if isinstance(value, str) else value
                    for key, value in row.items()
                }
            )
        data = buffer.getvalue().encode()
    with staged_file(path) as temporary:
        temporary.write_bytes(data)


@online_app.command("ingest")
def ingest_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="CSV, JSON Lines, saved HTML pages, feeds, or folders of them."),
    ],
    organisation: Organisation = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Country of phone numbers written without +code (GB…)."),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write every problem to FILE (.csv/.json).")
    ] = None,
    as_json: AsJson = False,
    acting_as: ActingAs = None,
) -> None:
    """Store ads and pages: all or nothing; re-ingesting an ad is a no-op. A CSV or JSON
    Lines file needs ``ad_id`` and ``text``; ``title``, ``location``, ``salary``, ``contact``,
    ``url`` and ``seen_at`` are read when present."""
    from tiphub.online.hub import ingest_ads
    from tiphub.online.ingest import read_inputs

    paths = _expand_folders(paths)
    region_code = region.strip().upper() if region else None
    if region_code is not None:
        import phonenumbers

        if region_code not in phonenumbers.SUPPORTED_REGIONS:
            _fail(f"--region: a country code such as GB, RO or UA, not {region_code!r}")
    read = read_inputs(paths, default_region=region_code)
    problems = [("error", p) for p in read.errors] + [("warning", p) for p in read.warnings]
    if report is not None:
        _write_report(report, problems)
    if read.errors:
        _print_problems("error", read.errors)
        _fail(f"{plural(len(read.errors), 'error')} in the input; nothing was stored")
    operator = _operator(acting_as)
    engine = _engine()
    try:
        slug = _organisation(engine, operator, organisation)
        outcome = ingest_ads(
            engine, operator, read.ads, organisation=slug, default_region=region_code
        )
    except (ValueError, LookupError, PermissionError) as error:
        _fail(f"{error}; nothing was stored")
    if as_json:
        print(
            json.dumps(
                {
                    "organisation": slug,
                    "stored": outcome.stored,
                    "unchanged": outcome.unchanged,
                    "changed": [str(p) for p in outcome.changed],
                    "warnings": [str(p) for p in read.warnings],
                    "formats": read.formats,
                },
                indent=2,
            )
        )
        return
    for line in read.formats:
        console.print(f"read {line}", highlight=False, markup=False)
    _print_problems("warning", read.warnings + outcome.changed)
    console.print(
        f"{plural(outcome.stored, 'ad')} stored for {slug}, {outcome.unchanged:,} already "
        f"stored unchanged; {plural(len(outcome.changed), 'ad')} already stored with other "
        "content kept as first stored. Next: `tiphub online screen`.",
        highlight=False,
    )


INGESTED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".html", ".htm", ".xml", ".rss", ".atom")
FETCH_LOG = "fetched.jsonl"


def _expand_folders(paths: list[Path]) -> list[Path]:
    """A folder stands for the ad files in it (not in its subfolders), in name order; the
    fetcher's own log is not an ad file."""
    expanded: list[Path] = []
    for path in paths:
        if not path.is_dir():
            expanded.append(path)
            continue
        found = sorted(
            child
            for child in path.iterdir()
            if child.is_file()
            and child.suffix.lower() in INGESTED_SUFFIXES
            and child.name != FETCH_LOG
        )
        if not found:
            _fail(f"{path} holds no ad files ({' '.join(INGESTED_SUFFIXES)})")
        expanded.extend(found)
    return expanded


def _screen(
    prevalence: float, threshold: float | None, acting_as: str | None, model: str = "tfidf"
) -> Any:
    from tiphub.online.pipeline import screen_stored

    try:
        return screen_stored(
            _engine(),
            _operator(acting_as),
            prevalence=prevalence,
            threshold=threshold,
            progress=_say,
            model_name=model,
        )
    except (ValueError, LookupError, PermissionError, ImportError) as error:
        _fail(str(error))


@online_app.command("screen")
def screen_command(
    prevalence: Prevalence = 0.05,
    threshold: Threshold = None,
    show: Annotated[int, typer.Option("--show", help="Flagged ads to list.")] = 20,
    csv_path: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write every ad's result to FILE for a spreadsheet."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="tfidf (default) or embeddings (multilingual; pip install "
            '"tiphub[embeddings]"; slower, weaker on English).',
        ),
    ] = "tfidf",
    as_json: AsJson = False,
    acting_as: ActingAs = None,
) -> None:
    """Screen every stored ad: indicators with the words that triggered them, a calibrated
    score, the licence register, template clusters. Flagged ads go to the review queue."""
    run = _screen(prevalence, threshold, acting_as, model)
    if csv_path is not None:
        _write_results_csv(csv_path, run)
    if as_json:
        print(json.dumps(run.to_dict(), indent=2, ensure_ascii=False))
        return
    if not run.ads:
        console.print("No ads stored yet: `tiphub online ingest FILE` stores some.")
        return
    console.print(
        f"{plural(len(run.ads), 'ad')} screened at prevalence {run.prevalence:g} (flag from "
        f"probability {run.threshold:.2f}); {plural(run.flagged, 'ad')} flagged, "
        f"{plural(len(run.clusters), 'template cluster')}"
        + ("; licence register checked." if run.register_used else "; no licence register."),
        highlight=False,
    )
    table = Table("ad", "score", "indicators", "cluster")
    for item in [item for item in run.ads if item.result.flagged][:show]:
        table.add_row(
            item.ad.ad_id,
            f"{item.result.score:.2f}" if item.result.score is not None else "",
            ", ".join(hit.id for hit in item.result.indicators),
            item.result.cluster_id or "",
        )
    console.print(table)


RESULT_COLUMNS = (
    "organisation",
    "ad_id",
    "score",
    "flagged",
    "indicators",
    "evidence",
    "cluster_id",
    "sector",
    "destination_country",
)


def _write_results_csv(path: Path, run: Any) -> None:
    """One row per ad. Ad IDs and evidence words come from the ads, which anyone may have
    written: a cell a spreadsheet would run as a formula gets a leading apostrophe."""
    from tiphub.exchange.spreadsheet import neutralise
    from tiphub.files import staged_file

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(RESULT_COLUMNS)
    for item in run.ads:
        row = item.to_dict()
        hits = row["indicators"]
        cells = [
            row["organisation"],
            row["ad_id"],
            "" if row["score"] is None else f"{row['score']:.4f}",
            "yes" if row["flagged"] else "no",
            " ".join(hit["id"] for hit in hits),
            "; ".join(f"{hit['id']}: {', '.join(hit['evidence'])}" for hit in hits),
            row["cluster_id"] or "",
            row["sector"] or "",
            row["destination_country"] or "",
        ]
        writer.writerow([neutralise(cell) for cell in cells])
    try:
        with staged_file(path) as temporary:
            temporary.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as error:
        _fail(f"cannot write {path}: {error.strerror}")


@online_app.command("clusters")
def clusters_command(
    prevalence: Prevalence = 0.05,
    as_json: AsJson = False,
    acting_as: ActingAs = None,
) -> None:
    """Template clusters: ads written from one template, with the contacts (hashed) that
    recur across them — the evidence that many ads come from one network."""
    run = _screen(prevalence, None, acting_as)
    clusters = sorted(run.clusters, key=lambda cluster: -len(cluster.ad_ids))
    if as_json:
        print(
            json.dumps(
                {"clusters": [cluster.to_dict() for cluster in clusters]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    if not clusters:
        console.print("No template shared by two or more ads.")
        return
    table = Table("cluster", "ads", "recurring contacts", "template")
    for cluster in clusters:
        template = cluster.template if len(cluster.template) < 120 else cluster.template[:117] + "…"
        table.add_row(cluster.id, str(len(cluster.ad_ids)), str(len(cluster.contacts)), template)
    console.print(table)


@online_app.command("rules")
def rules_command(as_json: AsJson = False) -> None:
    """The indicator rules: id, strength, languages and sources."""
    from tiphub.online.indicators import indicator_catalogue

    rules = indicator_catalogue()
    if as_json:
        print(
            json.dumps(
                {
                    "rules": [
                        {
                            "id": rule.id,
                            "title": rule.title,
                            "description": rule.description,
                            "strength": rule.strength,
                            "languages": list(rule.languages),
                            "sources": list(rule.sources),
                        }
                        for rule in rules
                    ]
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    table = Table("id", "strength", "languages", "title")
    for rule in rules:
        table.add_row(rule.id, rule.strength, " ".join(rule.languages), rule.title)
    console.print(table)


# -- evidence --------------------------------------------------------------------------------


@evidence_app.command("export")
def evidence_export(
    output: Annotated[Path, typer.Option("--output", help="BUNDLE.zip to write.")],
    ad_ids: Annotated[
        list[str] | None, typer.Option("--ad", help="An ad to include (repeat); default: flagged.")
    ] = None,
    include_all: Annotated[
        bool, typer.Option("--all", help="Every stored ad, not only the flagged ones.")
    ] = False,
    acting_as: ActingAs = None,
) -> None:
    """Write an evidence bundle: each ad's original bytes, SHA-256, where and when it was
    seen and its chain of custody, with a manifest that `evidence verify` checks."""
    from tiphub.online.evidence import write_bundle
    from tiphub.online.hub import evidence_items
    from tiphub.online.pipeline import bundle_signing_key

    operator = _operator(acting_as)
    if output.exists():
        _fail(f"{output} exists; nothing was written")
    try:
        items = evidence_items(
            _engine(), operator, ad_ids=ad_ids or None, flagged_only=not (include_all or ad_ids)
        )
    except (ValueError, LookupError, PermissionError) as error:
        _fail(str(error))
    if not items:
        _fail("no evidence to export (no flagged ads; --all or --ad ID chooses others)")
    try:
        manifest = write_bundle(items, output, operator.username, signing_key=bundle_signing_key())
    except (ValueError, OSError) as error:
        _fail(f"{error}; nothing was written")
    console.print(
        f"{plural(len(items), 'item')} written to {output} (mode 0600; it holds the ads as "
        f"captured, contacts included). Manifest SHA-256 {manifest.manifest_sha256}.",
        highlight=False,
    )


@evidence_app.command("verify")
def evidence_verify(
    bundle: Annotated[Path, typer.Argument(help="BUNDLE.zip written by `evidence export`.")],
    as_json: AsJson = False,
) -> None:
    """Check a bundle: the manifest's digest, every item's size and SHA-256, no member
    added or removed, and the hub's signature when this hub's keys are at hand. Exit 0
    when it verifies, 1 when it does not."""
    from tiphub.online.evidence import verify_bundle
    from tiphub.online.pipeline import bundle_signing_key
    from tiphub.store.crypto import KeyProblem

    try:
        key: bytes | None = bundle_signing_key()
    except KeyProblem:
        key = None  # away from this hub's keys the signature cannot be checked
    check = verify_bundle(bundle, signing_key=key)
    if as_json:
        print(json.dumps(check.to_dict(), indent=2))
    else:
        for problem in check.problems:
            errors.print(f"problem: {problem}", highlight=False, markup=False)
        verdict = "verifies" if check.ok else "does NOT verify"
        digest = f", manifest SHA-256 {check.manifest_sha256}" if check.manifest_sha256 else ""
        console.print(
            f"{bundle} {verdict}: {plural(check.items, 'item')}{digest}; signature: "
            f"{check.signature}.",
            highlight=False,
        )
    raise typer.Exit(0 if check.ok else 1)


# -- register --------------------------------------------------------------------------------


@register_app.command("load")
def register_load(
    path: Annotated[Path, typer.Argument(help="CSV of licensed agencies.")],
    organisation: Organisation = None,
    acting_as: ActingAs = None,
) -> None:
    """Load the licence register (columns name, licence_number; address, phone, email,
    website, status, valid_until when known). It replaces the previous one; the next
    `tiphub online screen` checks every ad against it."""
    from tiphub.online.hub import store_register
    from tiphub.online.register import read_register

    try:
        register = read_register(path)
    except (ValueError, OSError) as error:
        _fail(f"{error}; nothing was stored")
    operator = _operator(acting_as)
    engine = _engine()
    try:
        slug = _organisation(engine, operator, organisation)
        count = store_register(engine, operator, register, organisation=slug)
    except (ValueError, LookupError, PermissionError) as error:
        _fail(f"{error}; nothing was stored")
    console.print(f"{plural(count, 'agency', 'agencies')} in the register of {slug}.")


# -- review and hand-over --------------------------------------------------------------------


def _find(engine: Engine, operator: Principal, ad_id: str, organisation: str | None) -> Any:
    from tiphub.online.hub import stored_ads

    found = [
        ad
        for ad in stored_ads(engine, operator)
        if ad.ad_id == ad_id and (organisation is None or ad.organisation == organisation)
    ]
    if not found:
        _fail(f"no stored ad {ad_id!r}")
    if len(found) > 1:
        _fail(f"ad {ad_id!r} is stored by several organisations; name one with --organisation")
    return found[0]


@review_app.command("list")
def review_list(
    status: Annotated[
        str | None, typer.Option("--status", help="new | confirmed | dismissed | unsure")
    ] = None,
    as_json: AsJson = False,
    acting_as: ActingAs = None,
) -> None:
    """The flagged ads awaiting or past review, highest score first."""
    from tiphub.online.hub import stored_ads

    ads = stored_ads(_engine(), _operator(acting_as), flagged_only=True, status=status)
    ads.sort(key=lambda ad: -(ad.score or 0.0))
    if as_json:
        print(json.dumps({"ads": [ad.to_dict() for ad in ads]}, indent=2, ensure_ascii=False))
        return
    if not ads:
        console.print("Nothing to review: no flagged ads (`tiphub online screen` flags them).")
        return
    table = Table("ad", "organisation", "score", "status", "indicators")
    for ad in ads:
        table.add_row(
            ad.ad_id,
            ad.organisation,
            f"{ad.score:.2f}" if ad.score is not None else "",
            ad.review_status,
            ", ".join(hit.id for hit in ad.indicators),
        )
    console.print(table)


@review_app.command("decide")
def review_decide(
    ad_id: Annotated[str, typer.Argument(help="The ad's ID.")],
    decision: Annotated[str, typer.Option("--decision", help="confirmed | dismissed | unsure")],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept sealed).")] = None,
    organisation: Organisation = None,
    acting_as: ActingAs = None,
) -> None:
    """Record a reviewer's decision on a flagged ad."""
    from tiphub.online.hub import review_ad

    operator = _operator(acting_as)
    engine = _engine()
    ad = _find(engine, operator, ad_id, organisation)
    try:
        review_ad(engine, operator, ad.row_id, decision, note)
    except (ValueError, LookupError, PermissionError) as error:
        _fail(str(error))
    console.print(f"Ad {ad_id}: {decision}.", highlight=False)


@online_app.command("handover")
def handover_command(
    to: Annotated[
        str, typer.Option("--to", help="screening | police | labour_inspectorate | takedown")
    ],
    ad_id: Annotated[str | None, typer.Option("--ad", help="The ad handed over.")] = None,
    cluster_id: Annotated[
        str | None, typer.Option("--cluster", help="Or the template cluster handed over.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="For the receiver (sealed).")] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write the takedown request or referral text to FILE."),
    ] = None,
    organisation: Organisation = None,
    acting_as: ActingAs = None,
) -> None:
    """Hand a flagged ad or cluster over: open a screening task, refer it to the police or
    the labour inspectorate (a task), or prepare a takedown request for the platform."""
    from tiphub.files import staged_file
    from tiphub.online.hub import hand_over

    if (ad_id is None) == (cluster_id is None):
        _fail("name one ad (--ad) or one cluster (--cluster)")
    operator = _operator(acting_as)
    engine = _engine()
    row_id: uuid.UUID | None = None
    if ad_id is not None:
        row_id = _find(engine, operator, ad_id, organisation).row_id
    try:
        made = hand_over(engine, operator, kind=to, row_id=row_id, cluster_id=cluster_id, note=note)
    except (ValueError, LookupError, PermissionError) as error:
        _fail(str(error))
    if made.text is not None:
        if output is not None:
            with staged_file(output) as temporary:
                temporary.write_text(made.text, encoding="utf-8")
            console.print(f"The hand-over text is written to {output}.", highlight=False)
        else:
            console.print(made.text, highlight=False, markup=False)
    if made.task_id is not None:
        console.print(f"Handed over to {to}: task {made.task_id} opened.", highlight=False)


# -- statistics ------------------------------------------------------------------------------


@online_app.command("stats")
def stats_command(
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Draw the weekly flags to FILE (.png/.svg).")
    ] = None,
    as_json: AsJson = False,
    acting_as: ActingAs = None,
) -> None:
    """Flags per ISO week by indicator, sector and destination country."""
    from tiphub.online.hub import weekly_statistics

    rows = weekly_statistics(_engine(), _operator(acting_as))
    if chart is not None:
        from tiphub.online.charts import draw_weekly

        try:
            draw_weekly(rows, chart)
        except (ValueError, OSError) as error:
            _fail(str(error))
    if as_json:
        print(json.dumps({"weeks": rows}, indent=2, ensure_ascii=False))
        return
    if not rows:
        console.print("No flags yet.")
        return
    table = Table("week", "dimension", "value", "flags")
    for row in rows:
        table.add_row(row["week"], row["dimension"], str(row["value"]), str(row["flags"]))
    console.print(table)
    if chart is not None:
        console.print(f"Chart written to {chart}.", highlight=False)


# -- fetch -----------------------------------------------------------------------------------


@online_app.command("fetch")
def fetch_command(
    urls_file: Annotated[
        Path, typer.Argument(help="Text file of URLs, one a line; lines starting # skipped.")
    ],
    output: Annotated[Path, typer.Option("--output", help="FOLDER to save the pages in.")],
    interval: Annotated[
        float,
        typer.Option(
            "--interval",
            min=0.0,
            help="Seconds between two requests to one host (more if its robots.txt asks).",
        ),
    ] = 10.0,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            hidden=True,
            help="Also fetch private, loopback and link-local addresses (for tests and "
            "local intranets only).",
        ),
    ] = False,
) -> None:
    """Fetch the pages at the URLs listed, and only those: no link is followed. robots.txt
    is obeyed, one request per host per interval, at most 5 MB a page; HTML pages and feeds
    are saved (0600) with fetched.jsonl beside them, ready for `tiphub online ingest`."""
    from tiphub.files import make_private_dir
    from tiphub.online.fetcher import LOG_NAME, OUTCOMES, fetch_listed, read_url_list

    try:
        urls = read_url_list(urls_file)
    except (OSError, UnicodeDecodeError) as error:
        _fail(f"{urls_file}: the list of URLs cannot be read ({type(error).__name__})")
    if not urls:
        _fail(f"{urls_file} lists no URL (one a line; lines starting # are skipped)")
    try:
        folder = make_private_dir(output)
    except OSError as error:
        _fail(f"{output}: the folder cannot be made ({type(error).__name__})")
    report = fetch_listed(urls, folder, min_interval_s=interval, allow_private=allow_private)
    skipped = [item for item in report.outcomes if item.outcome != "saved"]
    for item in skipped[:SHOWN_PROBLEMS]:
        errors.print(f"{item.url}: {item.outcome} ({item.reason})", highlight=False, markup=False)
    if len(skipped) > SHOWN_PROBLEMS:
        errors.print(f"… and {len(skipped) - SHOWN_PROBLEMS:,} more (see {LOG_NAME})")
    counts = report.counts
    console.print(
        ", ".join(f"{counts[name]:,} {name}" for name in OUTCOMES if counts[name])
        + f" of {plural(len(report.outcomes), 'URL')}; {folder / LOG_NAME} lists each.",
        highlight=False,
        markup=False,
    )
    if not counts["saved"]:
        raise typer.Exit(1)
    names = {path.suffix for path in report.saved_files}
    patterns = " ".join(f"{folder}/*{suffix}" for suffix in sorted(names))
    console.print(f"Next: `tiphub online ingest {patterns}`", highlight=False, markup=False)
