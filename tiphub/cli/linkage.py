"""``tiphub link`` and ``tiphub linkage encode | evaluate | review | graph``.

Every input ends in a result or in one short paragraph on standard error (exit code 2)
naming the file, row and column, never a value: the values are survivors' names. Every
result is computed before the first file is written, and every file is written 0600
through a staging path, so a failed or killed run leaves no output half-written.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tiphub.cli.progress import errors
from tiphub.cli.text import plural

if TYPE_CHECKING:
    import pandas as pd

console = Console(emoji=False, highlight=False)
linkage_app = typer.Typer(no_args_is_help=True, help="Record linkage tools.")

Stage = Callable[[str], None]

# A stratum is a category (region, sex, age band): a column with more distinct values is
# free text or an identifier, which would copy record-level detail into the histories.
MAX_STRATA = 100
# The largest secret file read: a key is tens of bytes; a large "secret" is the wrong file.
MAX_SECRET_BYTES = 65_536
# The review queue's item numbers are database integers.
_MAX_ITEM = 2**63 - 1


class CommandError(ValueError):
    """A command-line mistake (options, paths) found before any work is done."""


def _engine() -> Any:
    from tiphub.store.db import default_engine, ensure_schema

    engine = default_engine()
    ensure_schema(engine)
    return engine


def _fail(error: Exception) -> typer.Exit:
    # Text, not markup: a "[" in a file name must not be read as a style tag.
    message = Text("error: ", style="red")
    message.append(str(error))
    errors.print(message, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _stage_printer() -> Stage:
    started = time.perf_counter()

    def stage(label: str) -> None:
        line = Text(f"{time.perf_counter() - started:6.1f}s ", style="dim")
        line.append(label)
        errors.print(line, highlight=False)

    return stage


def _input_errors(*more: type[Exception]) -> tuple[type[Exception], ...]:
    """The errors that describe bad input or options, each a message fit to show.

    ``LocatedError`` covers the readers' errors (records, encodings, evaluation files); it is
    caught through the base class so that a refusal does not first import the heavy modules
    those errors live in.
    """
    from tiphub.errors import LocatedError
    from tiphub.linkage.records import LinkageDataError

    return (CommandError, LocatedError, LinkageDataError, *more)


def _check_outputs(outputs: Mapping[str, Path | None], inputs: Iterable[Path]) -> None:
    """Each output is a new or regular file, not an input, and named by one option only."""
    readable = [path for path in inputs if path.exists()]
    chosen: dict[Path, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        try:
            info = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as problem:
            raise CommandError(f"{option} {path}: {problem.strerror}") from None
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise CommandError(f"{option} {path}: this is a folder; give a file name")
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise CommandError(f"{option} {path}: not a regular file (a pipe or device)")
        if info is not None and any(os.path.samefile(path, other) for other in readable):
            raise CommandError(f"{option} {path}: this is an input file; it would be overwritten")
        key = path.resolve()
        if key in chosen:
            raise CommandError(f"{chosen[key]} and {option} name the same file {path}")
        chosen[key] = option


def _write(path: Path, write: Callable[[Path], None]) -> None:
    """Write one output; a file system refusal (full disk, no permission) ends the command."""
    try:
        write(path)
    except OSError as problem:
        reason = problem.strerror or type(problem).__name__
        raise _fail(CommandError(f"cannot write {path}: {reason}")) from None


def link_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Input CSVs (record_id, list, identity columns); none = the tiphub database.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", help="Write record_id,cluster_id here.")
    ] = Path("clusters.csv"),
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help="Match probability (or Dice with --encoded) at which pairs link; "
            "default: where estimated precision ÷ recall is 1.",
        ),
    ] = None,
    backend: Annotated[str, typer.Option("--backend", help="duckdb | spark")] = "duckdb",
    encoded: Annotated[
        bool, typer.Option("--encoded", help="Inputs are files from 'tiphub linkage encode'.")
    ] = False,
    capture_histories: Annotated[
        Path | None,
        typer.Option(
            "--capture-histories",
            help="Write the capture-history table for MSE and its sidecar (name + .json): whom it "
            "counts, the linkage's precision and recall, its uncertain links (no identities).",
        ),
    ] = None,
    strata: Annotated[
        str | None, typer.Option("--strata", help="Input column to stratify histories by.")
    ] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write an HTML report.")] = None,
    links_path: Annotated[
        Path | None,
        typer.Option("--links", help="Write every link with its explanation (no identities)."),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Known true entities: adds accuracy and blocking recall."),
    ] = None,
    review: Annotated[
        bool,
        typer.Option(
            "--review/--no-review",
            help="Use reviewers' decisions and queue uncertain pairs in the database.",
        ),
    ] = True,
    roles: Annotated[
        str | None,
        typer.Option(
            "--roles",
            help="Database linkage: HTCDS participant roles to take, comma-separated "
            "(default Victim,PresumedVictim; e.g. Perpetrator for a separate estimate).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Link person records across lists; write one cluster ID per record."""
    try:
        _check_link_options(backend, threshold, encoded, paths, strata, capture_histories)
        chosen_roles = _check_roles(roles, paths)
        sidecar = _sidecar_path(capture_histories)
        _check_outputs(
            {
                "--output": output,
                "--capture-histories": capture_histories,
                "--capture-histories (its .json)": sidecar,
                "--report": report,
                "--links": links_path,
            },
            [*(paths or []), *([truth] if truth is not None else [])],
        )
        truth_frame = _read_truth(truth) if truth is not None else None
        stage = _stage_printer()
        if encoded:
            run = _link_encoded(paths or [], threshold, stage)
        else:
            run = _link_plain(paths, backend, threshold, review, strata, stage, chosen_roles)
        outputs = _link_outputs(run, truth_frame, strata, capture_histories, report, paths)
    except _input_errors() as error:
        raise _fail(error) from None
    from tiphub.linkage.evaluate import write_capture_histories
    from tiphub.linkage.outputs import write_frame_csv, write_text

    summary: dict[str, Any] = run["summary"]
    _write(output, lambda path: write_frame_csv(path, run["clusters"]))
    summary["output"] = str(output)
    if links_path is not None:
        _write(links_path, lambda path: write_frame_csv(path, run["links"]))
        summary["links_file"] = str(links_path)
    if capture_histories is not None and sidecar is not None:
        _write(capture_histories, lambda path: write_capture_histories(outputs["histories"], path))
        summary["capture_histories"] = str(capture_histories)
        # The sidecar states whom the table counts and how sure its links are (no identities).
        sidecar_text = outputs["sidecar"].to_json(capture_histories.name)
        _write(sidecar, lambda path: write_text(path, sidecar_text))
        summary["capture_histories_sidecar"] = str(sidecar)
    if report is not None:
        _write(report, lambda path: write_text(path, outputs["report"]))
        summary["report"] = str(report)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


def _check_link_options(
    backend: str,
    threshold: float | None,
    encoded: bool,
    paths: list[Path] | None,
    strata: str | None,
    capture_histories: Path | None,
) -> None:
    if backend not in ("duckdb", "spark"):
        raise CommandError("--backend must be duckdb or spark")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise CommandError("--threshold must be between 0 and 1 (both excluded)")
    if encoded and not paths:
        raise CommandError("--encoded needs the encoded files as PATH arguments")
    if strata is not None and capture_histories is None:
        raise CommandError("--strata stratifies the capture histories: give --capture-histories")
    if strata is not None and encoded:
        raise CommandError("--strata needs plain input: encoded files hold no other columns")


def _check_roles(roles: str | None, paths: list[Path] | None) -> tuple[str, ...] | None:
    """The roles a database linkage takes; ``None`` for files, which carry no roles."""
    if paths and roles is not None:
        raise CommandError(
            "--roles chooses people in the tiphub database; input files are linked as given, "
            "so keep only the people to be counted in them (or drop PATH to link the database)"
        )
    if paths:
        return None
    # Imported only here: linking files must not pay for the case store's modules.
    from tiphub.linkage.store_records import RoleError, parse_roles

    try:
        return parse_roles(roles)
    except RoleError as error:
        raise CommandError(str(error)) from None


def _sidecar_path(histories: Path | None) -> Path | None:
    if histories is None:
        return None
    from tiphub.estimate.sidecar import sidecar_path

    return sidecar_path(histories)


def _read_truth(path: Path) -> pd.DataFrame:
    from tiphub.linkage.evaluate import read_truth

    return read_truth(path)


def _link_plain(
    paths: list[Path] | None,
    backend: str,
    threshold: float | None,
    review: bool,
    strata: str | None,
    stage: Stage,
    roles: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    from tiphub.linkage.records import check_linkable, read_records

    engine = None
    population: dict[str, Any] | None = None
    if paths:
        records = read_records(paths)
        inputs = ", ".join(path.name for path in paths)
    else:
        from tiphub.linkage.store_records import DEFAULT_ROLES, store_linkage_input

        engine = _engine()
        records, taken = store_linkage_input(engine, roles or DEFAULT_ROLES)
        population = taken.to_dict()
        inputs = "database"
        if records.frame.empty:
            raise CommandError(
                f"the database holds no person with a name or date of birth in the roles "
                f"{', '.join(taken.roles)}; choose others with --roles"
            )
    if strata is not None:
        _check_strata(records.frame, strata)
    # Before the model's libraries are even loaded: a refusal costs no more than reading.
    check_linkable(records)
    if review and engine is None:
        engine = _engine()
    from tiphub.linkage.api import LinkRun, run_link
    from tiphub.linkage.linker import BackendUnavailableError
    from tiphub.linkage.records import LinkageDataError, RecordSet

    def link(training: RecordSet | None = None) -> LinkRun:
        return run_link(
            records,
            backend=backend,  # type: ignore[arg-type]
            threshold=threshold,
            engine=engine if review else None,
            inputs=inputs,
            stage=stage,
            training=training,
        )

    try:
        try:
            run = link()
        except LinkageDataError:
            if population is None or engine is None:
                raise
            # Perpetrators' records, say, rarely hold dates of birth: learn how names and
            # dates agree from every stored person, and link only the chosen roles.
            from tiphub.linkage.store_records import every_role_records

            everyone = every_role_records(engine)
            if len(everyone.frame) <= len(records.frame):
                raise
            stage("too few pairs to learn from in these roles: learning from every person")
            run = link(everyone)
    except BackendUnavailableError as error:
        raise CommandError(f"--backend {backend}: {error}") from None
    if population is not None:
        run.summary["roles"] = ",".join(population["roles"])
    if not paths and engine is not None:
        from tiphub.cases import audit
        from tiphub.cases.access import local_operator
        from tiphub.cases.matches import record_match_notices

        notices = record_match_notices(engine, run.clusters, run.summary.get("review_run"))
        audit.record_now(
            engine,
            local_operator(),
            "linkage.run",
            details={"records": len(records.frame), "cross_organisation_notices": notices},
        )
    return {
        "records": records.frame,
        "clusters": run.clusters,
        "links": run.links,
        "summary": run.summary,
        "candidates": run.candidate_pairs,
        "run": run,
        "engine": engine if not paths else None,
        "population": population,
    }


def _check_strata(frame: pd.DataFrame, strata: str) -> None:
    from tiphub.linkage.records import IDENTITY_COLUMNS, INTERNAL_COLUMNS, KEY_COLUMNS

    if strata in IDENTITY_COLUMNS or strata in KEY_COLUMNS or strata in INTERNAL_COLUMNS:
        # A stratum is written into the capture histories: never names, dates or IDs.
        raise CommandError(
            f"--strata {strata}: give a category column of the input (region, age band), "
            "not an identity, key or internal column"
        )
    if strata not in frame.columns:
        raise CommandError(f"--strata {strata}: the input has no such column")
    distinct = frame[strata].nunique(dropna=True)
    if distinct > MAX_STRATA:
        raise CommandError(
            f"--strata {strata}: the column has {distinct:,} different values; a stratum "
            f"column is a category with at most {MAX_STRATA}"
        )


def _link_encoded(paths: list[Path], threshold: float | None, stage: Stage) -> dict[str, Any]:
    from tiphub.linkage.encoded_link import link_encoded_files

    outcome = link_encoded_files(paths, threshold=threshold, stage=stage)
    return {
        "records": outcome.records,
        "clusters": outcome.clusters,
        "links": outcome.links,
        "summary": outcome.summary,
        "candidates": outcome.links[["record_id_l", "record_id_r"]],
        "encoded": outcome,
    }


def _link_outputs(
    run: dict[str, Any],
    truth: pd.DataFrame | None,
    strata: str | None,
    histories_path: Path | None,
    report_path: Path | None,
    paths: list[Path] | None,
) -> dict[str, Any]:
    """Everything to be written, computed before the first file is."""
    outputs: dict[str, Any] = {}
    clusters: pd.DataFrame = run["clusters"]
    if histories_path is not None:
        from tiphub.linkage.evaluate import capture_histories

        stratum = None
        if strata is not None:
            stratum = run["records"][strata].reset_index(drop=True)
        outputs["histories"] = capture_histories(
            clusters["list"].reset_index(drop=True),
            clusters["cluster_id"].reset_index(drop=True),
            stratum,
        )
        from tiphub.linkage.histories_sidecar import histories_sidecar

        outputs["sidecar"] = histories_sidecar(
            run,
            outputs["histories"],
            strata=strata,
            paths=paths,
            store_population=run.get("population"),
        )
    if truth is not None:
        from tiphub.linkage.evaluate import evaluate

        result = evaluate(clusters, truth, candidate_pairs=run.get("candidates"))
        run["summary"]["evaluation"] = result.to_dict()
    if report_path is not None:
        outputs["report"] = _render_report(run, run["summary"])
    return outputs


def _render_report(run: dict[str, Any], summary: dict[str, Any]) -> str:
    from tiphub.linkage.report import render_encoded_report, render_report

    flat = {key: value for key, value in summary.items() if not isinstance(value, dict)}
    for key, value in (summary.get("evaluation") or {}).items():
        if not isinstance(value, dict | list):
            flat[f"evaluation: {key}"] = value
    encoded = run.get("encoded")
    if encoded is not None:
        return render_encoded_report(
            summary=flat,
            links=run["links"],
            scores=encoded.candidate_dice,
            threshold=float(encoded.summary["threshold"]),
        )
    sections: list[str] = []
    link_run = run["run"]
    if run.get("engine") is not None:
        from tiphub.linkage.network import load_network, network_html_section

        mapping = dict(
            zip(run["clusters"]["record_id"], run["clusters"]["cluster_id"], strict=True)
        )
        sections.append(network_html_section(load_network(run["engine"], mapping)))
    return render_report(
        summary=flat,
        choice=link_run.result.threshold,
        pairs=link_run.result.pairs,
        links=run["links"],
        comparisons=link_run.result.scored.comparisons,
        model=link_run.result.scored.model_json,
        extra_sections=sections,
        conflicts=link_run.conflicts,
    )


def shown(value: object) -> str:
    """A summary value as a person reads it: floats to six significant digits (a threshold
    of 0.014, not 0.013999999999999999), everything else as it is."""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="Record linkage", show_header=False)
    for key, value in summary.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if not isinstance(inner_value, dict | list):
                    table.add_row(Text(f"{key}: {inner}"), Text(shown(inner_value)))
        elif isinstance(value, list):
            # Notes (what training fell back on) one per line; none, no row.
            if value:
                table.add_row(Text(key.replace("_", " ")), Text("\n".join(map(str, value))))
        else:
            table.add_row(Text(key.replace("_", " ")), Text(shown(value)))
    console.print(table)


@linkage_app.command("encode")
def encode_command(
    path: Annotated[Path, typer.Argument(help="Input CSV in the 'tiphub link' format.")],
    secret_file: Annotated[
        Path, typer.Option("--secret-file", help="File holding the shared secret key.")
    ],
    output: Annotated[Path, typer.Option("--output", help="Encoded CSV to write.")],
) -> None:
    """Turn identity fields into hardened Bloom-filter encodings (no names leave)."""
    from tiphub.linkage.encoding import MIN_SECRET_BYTES, EncodingError, encode, metadata_path
    from tiphub.linkage.inputs import read_bytes
    from tiphub.linkage.records import read_records

    try:
        _check_outputs(
            {"--output": output, "--output (its .json)": metadata_path(output)},
            [path, secret_file],
        )
        secret = read_bytes(secret_file, EncodingError, limit=MAX_SECRET_BYTES).strip()
        if len(secret) < MIN_SECRET_BYTES:
            raise EncodingError(
                f"the secret must be at least {MIN_SECRET_BYTES} bytes", source=str(secret_file)
            )
        records = read_records([path])
        if records.frame.empty:
            raise EncodingError("the file holds no records to encode", source=str(path))
        started = time.perf_counter()
        encoded = encode(records.frame, secret)
    except _input_errors() as error:
        raise _fail(error) from None
    elapsed = time.perf_counter() - started
    _write(output, encoded.write_csv)
    rate = len(records.frame) / elapsed if elapsed > 0 else float("inf")
    console.print(
        Text(f"encoded {plural(len(records.frame), 'record')} to {output} ({rate:,.0f} records/s)")
    )


@linkage_app.command("evaluate")
def evaluate_command(
    clusters_path: Annotated[Path, typer.Argument(help="record_id,cluster_id CSV.")],
    truth: Annotated[Path, typer.Option("--truth", help="record_id and true entity CSV.")],
    candidates: Annotated[
        Path | None,
        typer.Option("--candidates", help="Candidate pairs (record_id_l,record_id_r) CSV."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Pairwise and cluster accuracy, blocking recall and the MSE error of a clustering."""
    from tiphub.linkage.evaluate import evaluate, read_candidate_pairs, read_clusters, read_truth

    try:
        clusters = read_clusters(clusters_path)
        truth_frame = read_truth(truth)
        pairs = read_candidate_pairs(candidates) if candidates is not None else None
        result = evaluate(clusters, truth_frame, candidate_pairs=pairs)
    except _input_errors() as error:
        raise _fail(error) from None
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        console.print(Text(result.summary()))


@linkage_app.command("review")
def review_command(
    item: Annotated[
        int | None, typer.Argument(help="Item to decide; none lists the queue.")
    ] = None,
    decision: Annotated[
        str | None, typer.Option("--decision", help="match | non_match | unsure")
    ] = None,
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who decides.")] = "cli",
    note: Annotated[str | None, typer.Option("--note", help="Why.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Items to list.")] = 20,
) -> None:
    """Work the clerical review queue: list pending pairs, show one, or decide it."""
    from tiphub.linkage.review import (
        ReviewError,
        decide,
        get,
        item_table,
        pending,
        queue_stats,
    )

    try:
        if item is not None and not 1 <= item <= _MAX_ITEM:
            raise ReviewError(f"no review item {item}")
        if item is None and decision is not None:
            raise CommandError("--decision needs the ITEM it decides")
        engine = _engine()
        if item is None:
            stats = queue_stats(engine)
            entries = pending(engine, limit=limit)
        elif decision is None:
            shown = get(engine, item)
        else:
            decided = decide(engine, item, decision, reviewer=reviewer, note=note)  # type: ignore[arg-type]
    except _input_errors(ReviewError) as error:
        raise _fail(error) from None
    if item is None:
        console.print(Text(", ".join(f"{key}: {value}" for key, value in stats.items())))
        table = Table("item", "left", "right", "lists", "probability")
        for entry in entries:
            table.add_row(
                Text(str(entry.id)),
                Text(entry.left_key),
                Text(entry.right_key),
                Text(f"{entry.left_list} / {entry.right_list}"),
                Text(f"{entry.match_probability:.3f}"),
            )
        console.print(table)
    elif decision is None:
        console.print(item_table(shown))
    else:
        console.print(Text(f"item {decided.id}: {decided.status}"))


@linkage_app.command("graph")
def graph_command(
    clusters_path: Annotated[
        Path, typer.Argument(help="Clusters from 'tiphub link' run on the database.")
    ],
    graphml: Annotated[Path | None, typer.Option("--graphml", help="Write GraphML.")] = None,
    nodes: Annotated[Path | None, typer.Option("--nodes", help="Write nodes CSV.")] = None,
    edges: Annotated[Path | None, typer.Option("--edges", help="Write edges CSV.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Routes and shared perpetrators, phones and addresses across the linked cases."""
    from tiphub.linkage.evaluate import read_clusters
    from tiphub.linkage.network import (
        load_network,
        network_summary,
        write_graphml,
        write_nodes_edges_csv,
    )

    try:
        if (nodes is None) != (edges is None):
            raise CommandError("--nodes and --edges go together: give both")
        _check_outputs({"--graphml": graphml, "--nodes": nodes, "--edges": edges}, [clusters_path])
        clusters = read_clusters(clusters_path)
    except _input_errors() as error:
        raise _fail(error) from None
    mapping = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    network = load_network(_engine(), mapping)
    if graphml is not None:
        _write(graphml, lambda path: write_graphml(network, path))
    if nodes is not None and edges is not None:
        _write(nodes, lambda path: write_nodes_edges_csv(network, path, edges))
    summary = network_summary(network)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        console.print_json(json.dumps(summary, default=str))


@linkage_app.command("population")
def population_command(
    output: Annotated[Path, typer.Option("--output", help="Records CSV to write.")],
    truth: Annotated[Path, typer.Option("--truth", help="Ground-truth CSV to write.")],
    records: Annotated[
        int, typer.Option("--records", min=1, help="Records over all lists (list mode).")
    ] = 5_000,
    lists: Annotated[int, typer.Option("--lists", min=1, help="How many lists.")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same people.")] = 0,
    register: Annotated[
        bool, typer.Option("--register", help="One register, each person 3-21 times.")
    ] = False,
    people: Annotated[
        int, typer.Option("--people", min=1, help="People in the register (--register).")
    ] = 4_738,
) -> None:
    """Synthetic multi-origin person records and their truth, for tests and benchmarks."""
    from tiphub.files import open_private, staged_file
    from tiphub.linkage.population import generate_population, generate_register

    try:
        _check_outputs({"--output": output, "--truth": truth}, [])
    except _input_errors() as error:
        raise _fail(error) from None
    started = time.perf_counter()
    if register:
        frame, truth_frame = generate_register(people, seed=seed)
    else:
        frame, truth_frame = generate_population(records, n_lists=lists, seed=seed)
    elapsed = time.perf_counter() - started

    def write_csv(table: pd.DataFrame) -> Callable[[Path], None]:
        def write(path: Path) -> None:
            with (
                staged_file(path) as staged,
                open_private(staged, "w", encoding="utf-8", newline="") as handle,
            ):
                table.to_csv(handle, index=False)

        return write

    _write(output, write_csv(frame))
    _write(truth, write_csv(truth_frame))
    console.print(
        Text(
            f"{plural(len(frame), 'record')} of {plural(truth_frame['true_id'].nunique(), 'person')}"
            f" in {plural(frame['list'].nunique(), 'list')} to {output} ({elapsed:.1f}s)"
        )
    )
