"""``tiphub release``: reportable aggregates and release bundles from a CTDC file or the
hub's own cases.

Input is the CSV ``tiphub export --format ctdc`` writes, or the database when ``--input``
is absent. Every release is recorded on the privacy-budget ledger of its dataset (the
file's content, or the hub), in the tiphub database; a differentially private one spends
from the dataset's budget and is refused when the budget cannot pay. Refusals print the
reason on standard error, exit with 2 and write nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from tiphub.cli.text import plural

if TYPE_CHECKING:
    from tiphub.cases.access import Principal
    from tiphub.release.table import ReleaseTable

console = Console()
errors = Console(stderr=True)

release_app = typer.Typer(
    help="Share safely: k-anonymous or differentially private statistics and synthetic data.",
    no_args_is_help=True,
)

InputFile = Annotated[
    Path | None,
    typer.Option("--input", help="CTDC CSV (tiphub export --format ctdc); default: the database."),
]
KOption = Annotated[int, typer.Option("--k", help="Smallest group that may be shown.")]
MaxCombination = Annotated[
    int, typer.Option("--max-combination", help="Longest combination of values counted (L).")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the random choices.")]
Dataset = Annotated[
    str | None,
    typer.Option("--dataset", help="Ledger name of the dataset (default: from the input)."),
]
ActingAs = Annotated[str | None, typer.Option("--as", help="Operator name for the audit log.")]


def _fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def _claim_folder(output: Path) -> Path:
    """Claim the output folder before any privacy budget is spent, so that a second run
    aimed at the same folder is refused at once rather than after its release has been
    recorded. Returns the claim (a lock file beside the folder) to remove when done."""
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        _fail(f"{output} exists and is not an empty folder; nothing was written")
    claim = output.with_name(f".{output.name}.tiphub-lock")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        _fail(
            f"another release is being written to {output}; nothing was written (if no "
            f"other run is going on, remove {claim})"
        )
    except OSError as error:
        _fail(f"{output} cannot be written: {error}")
    return claim


def local_operator(name: str | None = None) -> Principal:
    # The access module loads the database models: only a command that runs may pay for that.
    from tiphub.cases.access import local_operator as operator

    return operator(name)


def _source(input_path: Path | None, dataset: str | None) -> tuple[ReleaseTable, str]:
    from tiphub.release.publishing import file_dataset, hub_dataset, hub_table
    from tiphub.release.table import read_ctdc_csv

    operator = local_operator()
    if input_path is None:
        from tiphub.cli.app import _engine

        return hub_table(_engine(), operator), dataset or hub_dataset(operator)
    table = read_ctdc_csv(input_path)
    return table, dataset or file_dataset(input_path.read_bytes())


@release_app.command("aggregates")
def aggregates_command(
    output: Annotated[Path, typer.Option("--output", help="AGG.csv to write.")],
    input_path: InputFile = None,
    k: KOption = 11,
    max_combination: MaxCombination = 3,
    seed: Seed = 0,
) -> None:
    """Counts of every combination of up to L values, cells below k suppressed, the rest
    randomly rounded to multiples of 5 by cell key (columns: combination, count)."""
    from tiphub.files import staged_file
    from tiphub.release.aggregates import reportable_aggregates
    from tiphub.release.bundle import aggregates_csv

    try:
        table, _ = _source(input_path, None)
        made = reportable_aggregates(table, k=k, max_length=max_combination, seed=seed)
    except (ValueError, OSError) as error:
        _fail(str(error))
    if output.exists() and output.is_dir():
        _fail(f"{output} is a folder; give a file name")
    try:
        with staged_file(output) as temporary:
            temporary.write_bytes(aggregates_csv(made.rows()))
    except OSError as error:
        _fail(f"cannot write {output}: {error.strerror}")
    suppressed = sum(made.suppressed.values())
    console.print(
        f"{plural(len(made.counts) - 1, 'combination')} of up to "
        f"{plural(max_combination, 'value')} written to "
        f"{output}; {suppressed:,} held by fewer than k = {k} rows suppressed; counts rounded "
        f"to multiples of {made.base}.",
        highlight=False,
    )


@release_app.command("synthetic")
def synthetic_command(
    output: Annotated[Path, typer.Option("--output", help="Folder of the bundle (new or empty).")],
    method: Annotated[str, typer.Option("--method", help="k-anon | dp")] = "k-anon",
    input_path: InputFile = None,
    k: KOption = 11,
    epsilon: Annotated[
        float | None, typer.Option("--epsilon", help="Privacy loss ε of a dp release.")
    ] = None,
    delta: Annotated[
        float | None, typer.Option("--delta", help="δ of a dp release (default 1e-6).")
    ] = None,
    max_combination: MaxCombination = 3,
    seed: Seed = 0,
    title: Annotated[str, typer.Option("--title", help="Title of the release.")] = (
        "tiphub data release"
    ),
    approved_by: Annotated[
        str | None, typer.Option("--approved-by", help="Who approved this release.")
    ] = None,
    dataset: Dataset = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    acting_as: ActingAs = None,
) -> None:
    """Write a release bundle: synthetic.csv (CTDC layout), aggregates.csv, codebook.csv,
    privacy.json, metrics.json and report.html."""
    from tiphub.cli.app import _engine
    from tiphub.release.api import METHODS, ReleaseRequest
    from tiphub.release.bundle import write_bundle
    from tiphub.release.publishing import record_release

    if method not in METHODS[:2]:
        _fail(f"unknown method {method!r}: choose k-anon or dp")
    claim = _claim_folder(output)
    try:
        request = ReleaseRequest(
            method=method,
            k=k,
            max_length=max_combination,
            epsilon=epsilon,
            delta=delta,
            seed=seed,
            title=title,
            approved_by=approved_by,
        )
        try:
            request.check()
            table, dataset_name = _source(input_path, dataset)
            with console.status("making the release…"):
                info, bundle = record_release(
                    _engine(), local_operator(acting_as), dataset_name, request, table
                )
        except (ValueError, OSError, PermissionError, LookupError) as error:
            _fail(str(error))
        try:
            write_bundle(bundle, output)
        except OSError as error:
            _fail(
                f"release {info.id} is recorded (its privacy spend counts and its bundle is kept "
                f"in the database), but its folder could not be written: {error}"
            )
    finally:
        claim.unlink(missing_ok=True)
    summary = {
        "release": str(info.id),
        "dataset": dataset_name,
        "output": str(output),
        "privacy": bundle.privacy,
        "utility": bundle.metrics.get("utility", {}),
        "attack": bundle.metrics.get("attack", {}),
    }
    if as_json:
        print(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
        return
    _print_summary(summary)


def _figure(value: object, spec: str) -> str:
    """A metric, or n/a where there was nothing to measure (None or NaN in the JSON)."""
    if not isinstance(value, int | float) or value != value:
        return "n/a"
    return format(value, spec)


def _print_summary(summary: dict[str, object]) -> None:
    privacy = summary["privacy"]
    assert isinstance(privacy, dict)
    console.print(f"Release written to {summary['output']} ({privacy['method']}).", highlight=False)
    utility = summary["utility"]
    if isinstance(utility, dict):
        table = Table("length", "MAE", "suppressed", "fabricated", title="utility")
        for figures in utility.get("by_length", []):
            table.add_row(
                str(figures["length"]),
                _figure(figures["mae"], ".2f"),
                _figure(figures["suppressed"], ".1%"),
                _figure(figures["fabricated"], ".1%"),
            )
        console.print(table)
    attack = summary["attack"]
    if isinstance(attack, dict):
        verdict = "passes" if attack.get("passes") else "FAILS"
        console.print(
            f"Singling-out attack: {verdict} (largest chance {attack.get('largest_chance')}).",
            highlight=False,
        )


@release_app.command("budget")
def budget_command(
    dataset: Dataset = None,
    epsilon: Annotated[float | None, typer.Option("--epsilon", help="Set the total ε.")] = None,
    delta: Annotated[float | None, typer.Option("--delta", help="Set the total δ.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    acting_as: ActingAs = None,
) -> None:
    """Show the privacy-budget ledger, or set a dataset's total before anything is spent."""
    from tiphub.cli.app import _engine
    from tiphub.release.publishing import DEFAULT_DELTA_TOTAL, budgets, set_budget

    engine = _engine()
    if epsilon is not None or delta is not None:
        if dataset is None:
            _fail("give --dataset to set a budget")
        try:
            set_budget(
                engine,
                local_operator(acting_as),
                dataset,
                epsilon if epsilon is not None else 10.0,
                delta if delta is not None else DEFAULT_DELTA_TOTAL,
            )
        except (ValueError, PermissionError) as error:
            _fail(str(error))
    found = [budget for budget in budgets(engine) if dataset is None or budget.dataset == dataset]
    if as_json:
        print(json.dumps([budget.to_dict() for budget in found], indent=2))
        return
    if not found:
        console.print("No dataset has a budget yet: the first release of a dataset opens one.")
        return
    table = Table("dataset", "ε spent / total", "δ spent / total", "releases")
    for budget in found:
        table.add_row(
            budget.dataset,
            f"{budget.epsilon_spent:g} / {budget.epsilon_total:g}",
            f"{budget.delta_spent:g} / {budget.delta_total:g}",
            str(budget.releases),
        )
    console.print(table)


@release_app.command("codebook")
def codebook_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The columns a release may hold and the values each may take."""
    from tiphub.release.codebook import codebook

    columns = codebook()
    if as_json:
        print(
            json.dumps(
                [
                    {"variable": c.name, "label": c.label, "type": c.kind, "values": list(c.domain)}
                    for c in columns
                ],
                indent=2,
            )
        )
        return
    table = Table("variable", "label", "values")
    for column in columns:
        table.add_row(column.name, column.label, column.describe_domain())
    console.print(table)
