"""``tiphub estimate``: Multiple Systems Estimation from a capture-history CSV."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from tiphub.cli.progress import errors
from tiphub.cli.progress import progress_callback as _progress

console = Console(emoji=False, highlight=False)

METHOD_HELP = "main | stepwise | aic-stepwise | bic | fixed | lcmcr"


def estimate_command(
    target: Annotated[
        str,
        typer.Argument(
            help="Capture-history CSV (one 0/1 column per list plus count, or one row per person); "
            "or the word 'robustness' followed by the CSV.",
            metavar="PATH",
        ),
    ],
    robustness_path: Annotated[
        Path | None, typer.Argument(help="The CSV, after 'robustness'.", show_default=False)
    ] = None,
    method: Annotated[str, typer.Option("--method", help=METHOD_HELP)] = "stepwise",
    pthresh: Annotated[
        float | None,
        typer.Option("--pthresh", help="p-value threshold (stepwise 0.02, aic-stepwise 0.05)."),
    ] = None,
    max_order: Annotated[
        int | None, typer.Option("--max-order", help="Largest interaction order for bic.")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Interaction terms for --method fixed, e.g. 'A:B,B:C'."),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="BCa bootstrap replicates (0 = none).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1234,
    merge: Annotated[
        list[str] | None, typer.Option("--merge", help="Merge lists, e.g. PF+NCA (repeatable).")
    ] = None,
    omit: Annotated[list[str] | None, typer.Option("--omit", help="Omit a list (repeatable).")] = None,
    strata: Annotated[
        str | None, typer.Option("--strata", help="Column to stratify by; strata are summed.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report with charts.")
    ] = None,
    classes: Annotated[int, typer.Option("--classes", help="LCMCR latent classes K.")] = 5,
    burnin: Annotated[int, typer.Option("--burnin", help="LCMCR burn-in iterations.")] = 100_000,
    samples: Annotated[int, typer.Option("--samples", help="LCMCR kept draws.")] = 1_000,
    thinning: Annotated[int, typer.Option("--thinning", help="LCMCR thinning.")] = 100,
    profits: Annotated[
        str | None,
        typer.Option(
            "--profits",
            help="Also estimate illicit profits from the recorded mix of exploitation, e.g. "
            "'sexual=120,labour=80,domestic=10', or 'store' to count it in the tiphub database.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="ILO region for profits per victim.")
    ] = None,
    edition: Annotated[int, typer.Option("--edition", help="ILO edition: 2014 or 2024.")] = 2024,
) -> None:
    """Estimate the hidden population by Multiple Systems Estimation.

    `tiphub estimate robustness PATH --report OUT.html` compares every method and every
    single list merge or omission.
    """
    from tiphub.estimate.api import apply_list_changes, estimate, estimate_strata
    from tiphub.estimate.loglinear import EstimationError
    from tiphub.estimate.profits import ProfitFigureError
    from tiphub.estimate.table import CaptureTableError, read_capture_csv

    robustness_mode = target == "robustness" and robustness_path is not None
    path = robustness_path if robustness_mode else Path(target)
    if path is None or (robustness_path is not None and not robustness_mode):
        errors.print("[red]Give one CSV, or 'robustness' and a CSV.[/red]")
        raise typer.Exit(code=2)
    try:
        tables = read_capture_csv(path, strata=[strata] if strata else [])
        tables = {
            key: apply_list_changes(table, merge or [], omit or []) if (merge or omit) else table
            for key, table in tables.items()
        }
        if robustness_mode:
            _robustness(tables, report, as_json, seed)
            return
        common: dict[str, Any] = {
            "pthresh": pthresh,
            "max_order": max_order,
            "model": [t.strip() for t in model.split(",") if t.strip()] if model else [],
        }
        if strata:
            named = {"/".join(key): table for key, table in tables.items()}
            with _progress("bootstrapping strata") as update:
                stratified = estimate_strata(
                    named, method, replicates=bootstrap or 200, seed=seed, progress=update, **common
                )
            if report is not None:
                from tiphub.estimate.report import write_strata_report

                write_strata_report(stratified, named, report)
            if as_json:
                print(json.dumps(stratified.to_dict(), ensure_ascii=False))
            else:
                print(stratified.summary())
            return
        table = tables[()]
        mix = _exploitation_mix(profits) if profits else None
        if mix is not None and method != "lcmcr" and bootstrap == 0:
            # Profits need draws of the population; the bootstrap provides them.
            bootstrap = PROFIT_BOOTSTRAP
        with _progress(f"estimating ({method})") as update:
            result = estimate(
                table,
                method,
                bootstrap_replicates=bootstrap,
                seed=seed,
                lcmcr_classes=classes,
                lcmcr_burnin=burnin,
                lcmcr_samples=samples,
                lcmcr_thinning=thinning,
                progress=update,
                **common,
            )
        profit = None
        if mix is not None:
            import warnings

            from tiphub.estimate.profits import estimate_profits

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unverified figures are flagged in the output
                profit = estimate_profits(
                    result.population_draws, mix, region=region, edition=edition, seed=seed
                )
    except (CaptureTableError, EstimationError, ProfitFigureError) as error:
        errors.print(f"[red]Error:[/red] {error}", highlight=False)
        raise typer.Exit(code=1) from None
    if report is not None:
        from tiphub.estimate.report import write_estimate_report

        write_estimate_report(result, table, report)
    if as_json:
        data = result.to_dict()
        if profit is not None:
            data["profits"] = profit.to_dict()
        print(json.dumps(data, ensure_ascii=False))
    else:
        print(result.summary())
        if profit is not None:
            print(profit.summary())
        if report is not None:
            console.print(f"Report written to {report}")


PROFIT_BOOTSTRAP = 200


def _exploitation_mix(text: str) -> dict[str, int]:
    """``sexual=120,labour=80`` → counts; ``store`` counts victims in the tiphub database."""
    from tiphub.estimate.loglinear import EstimationError

    if text.strip() == "store":
        from tiphub.estimate.profits import exploitation_counts_from_store
        from tiphub.store.db import default_engine

        return exploitation_counts_from_store(default_engine())
    mix: dict[str, int] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        if not value.strip().isdigit():
            raise EstimationError(
                f"--profits expects form=count pairs such as sexual=120,labour=80; got {part.strip()!r}"
            )
        mix[name.strip()] = int(value)
    return mix


def _robustness(tables: Mapping[tuple[str, ...], object], report: Path | None, as_json: bool, seed: int) -> None:
    from tiphub.estimate.report import robustness
    from tiphub.estimate.table import CaptureTable

    if len(tables) != 1:
        errors.print("[red]The robustness report takes an unstratified table.[/red]")
        raise typer.Exit(code=2)
    table = next(iter(tables.values()))
    assert isinstance(table, CaptureTable)
    with _progress("robustness: every method, merge and omission") as update:
        result = robustness(table, seed=seed, progress=update)
    if report is not None:
        result.write_html(report)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    console.print(result.headline(), markup=False, highlight=False)
    for sentence in result.disagreements():
        console.print(f"  • {sentence}", markup=False, highlight=False)
    if report is not None:
        console.print(f"Report written to {report}")
