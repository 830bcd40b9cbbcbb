"""``tiphub link`` and ``tiphub linkage encode | evaluate | review | graph``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from tiphub.cli.progress import errors

console = Console(emoji=False, highlight=False)
linkage_app = typer.Typer(no_args_is_help=True, help="Record linkage tools.")


def _engine() -> Any:
    from tiphub.store.db import default_engine, ensure_schema

    engine = default_engine()
    ensure_schema(engine)
    return engine


def _fail(error: Exception) -> typer.Exit:
    errors.print(f"[red]error:[/red] {error}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(2)


def _stage_printer() -> Any:
    started = time.perf_counter()

    def stage(label: str) -> None:
        errors.print(f"[dim]{time.perf_counter() - started:6.1f}s[/dim] {label}", markup=True)

    return stage


def link_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Input CSVs (record_id, list, identity columns); none = the tiphub database.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[Path, typer.Option("--output", help="Write record_id,cluster_id here.")] = Path(
        "clusters.csv"
    ),
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
        typer.Option("--capture-histories", help="Write the capture-history table for MSE."),
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Link person records across lists; write one cluster ID per record."""
    from tiphub.linkage.encoding import EncodingError
    from tiphub.linkage.records import LinkageInputError

    if backend not in ("duckdb", "spark"):
        raise _fail(ValueError("--backend must be duckdb or spark"))
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise _fail(ValueError("--threshold must be between 0 and 1"))
    stage = _stage_printer()
    try:
        if encoded:
            if not paths:
                raise ValueError("--encoded needs the encoded files as PATH arguments")
            run = _link_encoded(paths, threshold, stage)
        else:
            run = _link_plain(paths, backend, threshold, review, stage)
    except (LinkageInputError, EncodingError, ValueError, RuntimeError) as error:
        raise _fail(error) from None
    clusters: pd.DataFrame = run["clusters"]
    summary: dict[str, Any] = run["summary"]
    clusters.to_csv(output, index=False)
    summary["output"] = str(output)
    if links_path is not None:
        run["links"].to_csv(links_path, index=False)
    if capture_histories is not None:
        _write_histories(run["records"], clusters, strata, capture_histories)
        summary["capture_histories"] = str(capture_histories)
    evaluation = None
    if truth is not None:
        evaluation = _evaluate(clusters, truth, run.get("candidates"))
        summary["evaluation"] = evaluation
    if report is not None:
        _write_report(report, run, summary, paths)
        summary["report"] = str(report)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


def _link_plain(
    paths: list[Path] | None, backend: str, threshold: float | None, review: bool, stage: Any
) -> dict[str, Any]:
    from tiphub.linkage.api import run_link
    from tiphub.linkage.records import read_records

    engine = _engine() if (review or not paths) else None
    if paths:
        records = read_records(paths)
        inputs = ", ".join(path.name for path in paths)
    else:
        from tiphub.linkage.store_records import store_records

        assert engine is not None
        records = store_records(engine)
        inputs = "database"
        if len(records.frame) < 2:
            raise ValueError("the database holds fewer than two persons with identity to link")
    run = run_link(
        records,
        backend=backend,  # type: ignore[arg-type]
        threshold=threshold,
        engine=engine if review else None,
        inputs=inputs,
        stage=stage,
    )
    return {
        "records": records.frame,
        "clusters": run.clusters,
        "links": run.links,
        "summary": run.summary,
        "candidates": run.candidate_pairs,
        "run": run,
        "engine": engine if not paths else None,
    }


def _link_encoded(paths: list[Path], threshold: float | None, stage: Any) -> dict[str, Any]:
    from tiphub.linkage.encoded_link import link_encoded_files

    outcome = link_encoded_files(paths, threshold=threshold, stage=stage)
    return {
        "records": outcome.records,
        "clusters": outcome.clusters,
        "links": outcome.links,
        "summary": outcome.summary,
        "candidates": outcome.links[["record_id_l", "record_id_r"]],
    }


def _write_histories(
    records: pd.DataFrame, clusters: pd.DataFrame, strata: str | None, path: Path
) -> None:
    from tiphub.linkage.evaluate import capture_histories, write_capture_histories

    stratum = None
    if strata is not None:
        if strata not in records.columns:
            raise _fail(ValueError(f"--strata: the input has no column '{strata}'"))
        stratum = records[strata].reset_index(drop=True)
    table = capture_histories(
        clusters["list"].reset_index(drop=True),
        clusters["cluster_id"].reset_index(drop=True),
        stratum,
    )
    write_capture_histories(table, path)


def _evaluate(clusters: pd.DataFrame, truth_path: Path, candidates: Any) -> dict[str, Any]:
    from tiphub.linkage.evaluate import EvaluationError, evaluate, read_truth

    try:
        truth = read_truth(truth_path)
    except EvaluationError as error:
        raise _fail(error) from None
    result = evaluate(clusters, truth, candidate_pairs=candidates)
    evaluated: dict[str, Any] = result.to_dict()
    return evaluated


def _write_report(path: Path, run: dict[str, Any], summary: dict[str, Any], paths: Any) -> None:
    from tiphub.linkage.report import write_report

    sections: list[str] = []
    link_run = run.get("run")
    if run.get("engine") is not None and link_run is not None:
        from tiphub.linkage.network import load_network, network_html_section

        mapping = dict(zip(run["clusters"]["record_id"], run["clusters"]["cluster_id"], strict=True))
        sections.append(network_html_section(load_network(run["engine"], mapping)))
    flat = {key: value for key, value in summary.items() if not isinstance(value, dict)}
    for key, value in (summary.get("evaluation") or {}).items():
        if not isinstance(value, dict | list):
            flat[f"evaluation: {key}"] = value
    write_report(
        path,
        summary=flat,
        choice=link_run.result.threshold if link_run is not None else None,
        pairs=link_run.result.pairs if link_run is not None else pd.DataFrame(),
        links=run["links"],
        comparisons=link_run.result.scored.comparisons if link_run is not None else [],
        model=link_run.result.scored.model_json if link_run is not None else None,
        extra_sections=sections,
    )


def _print_summary(summary: dict[str, Any]) -> None:
    table = Table(title="Record linkage", show_header=False)
    for key, value in summary.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if not isinstance(inner_value, dict | list):
                    table.add_row(f"{key}: {inner}", str(inner_value))
        else:
            table.add_row(key.replace("_", " "), str(value))
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
    from tiphub.linkage.encoding import encode
    from tiphub.linkage.records import LinkageInputError, read_records

    try:
        secret = secret_file.read_bytes().strip()
    except OSError:
        raise _fail(ValueError(f"{secret_file}: cannot read the secret file")) from None
    if len(secret) < 16:
        raise _fail(ValueError(f"{secret_file}: the secret must be at least 16 bytes"))
    try:
        records = read_records([path])
    except LinkageInputError as error:
        raise _fail(error) from None
    started = time.perf_counter()
    encoded = encode(records.frame, secret)
    elapsed = time.perf_counter() - started
    encoded.write_csv(output)
    rate = len(records.frame) / elapsed if elapsed > 0 else float("inf")
    console.print(f"encoded {len(records.frame):,} records to {output} ({rate:,.0f} records/s)")


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
    from tiphub.linkage.evaluate import EvaluationError, evaluate, read_clusters, read_truth

    try:
        clusters = read_clusters(clusters_path)
        truth_frame = read_truth(truth)
        pairs = pd.read_csv(candidates, dtype=str) if candidates is not None else None
        result = evaluate(clusters, truth_frame, candidate_pairs=pairs)
    except (EvaluationError, ValueError, OSError) as error:
        raise _fail(error) from None
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
    else:
        console.print(result.summary())


@linkage_app.command("review")
def review_command(
    item: Annotated[int | None, typer.Argument(help="Item to decide; none lists the queue.")] = None,
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

    engine = _engine()
    try:
        if item is None:
            stats = queue_stats(engine)
            console.print(", ".join(f"{key}: {value}" for key, value in stats.items()))
            table = Table("item", "left", "right", "lists", "probability")
            for entry in pending(engine, limit=limit):
                table.add_row(
                    str(entry.id),
                    entry.left_key,
                    entry.right_key,
                    f"{entry.left_list} / {entry.right_list}",
                    f"{entry.match_probability:.3f}",
                )
            console.print(table)
            return
        if decision is None:
            console.print(item_table(get(engine, item)))
            return
        decided = decide(engine, item, decision, reviewer=reviewer, note=note)  # type: ignore[arg-type]
    except ReviewError as error:
        raise _fail(error) from None
    console.print(f"item {decided.id}: {decided.status}")


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
    from tiphub.linkage.evaluate import EvaluationError, read_clusters
    from tiphub.linkage.network import (
        load_network,
        network_summary,
        write_graphml,
        write_nodes_edges_csv,
    )

    try:
        clusters = read_clusters(clusters_path)
    except EvaluationError as error:
        raise _fail(error) from None
    mapping = dict(zip(clusters["record_id"], clusters["cluster_id"], strict=True))
    network = load_network(_engine(), mapping)
    if graphml is not None:
        write_graphml(network, graphml)
    if nodes is not None and edges is not None:
        write_nodes_edges_csv(network, nodes, edges)
    summary = network_summary(network)
    if as_json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        console.print_json(json.dumps(summary, default=str))
