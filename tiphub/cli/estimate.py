"""``tiphub estimate``: Multiple Systems Estimation from a capture-history CSV.

Exit codes: 0 done; 2 an option is wrong in itself (out of range, malformed, or not
applicable to the method), found before the file is read; 1 anything else — the file, an
option that does not fit the file (an unknown list), an estimate that cannot be made, or a
run beyond the time limits (``--allow-long`` lifts those).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tiphub.cli.progress import errors

if TYPE_CHECKING:
    from tiphub.estimate.linkage_error import LinkageError
    from tiphub.estimate.sidecar import TableSidecar
    from tiphub.estimate.table import CaptureTable, ProgressCallback

console = Console(emoji=False, highlight=False)

METHOD_HELP = (
    "main | stepwise | aic-stepwise | bic | fixed | lcmcr | m0 | mh-chao | mh-poisson | "
    "mh-darroch | mh-gamma | mth-chao | mth-poisson | mth-darroch | mth-gamma | mt | "
    "closedpms | dga | bayesthresh (default stepwise)"
)
DEFAULT_METHOD = "stepwise"
DEFAULT_SEED = 1234
DEFAULT_CLASSES = 5
DEFAULT_BURNIN = 100_000
DEFAULT_SAMPLES = 1_000
DEFAULT_THINNING = 100
DEFAULT_CHAINS = 4
PROFIT_BOOTSTRAP = 200
STRATA_BOOTSTRAP = 200
PTHRESH_METHODS = ("stepwise", "aic-stepwise")
# Options of one estimate that the robustness report does not take: it runs every method
# with settings of its own.
NOT_FOR_ROBUSTNESS = (
    "--method", "--pthresh", "--max-order", "--model", "--bootstrap", "--strata",
    "--classes", "--burnin", "--samples", "--thinning", "--chains", "--profits", "--region",
    "--edition", "--criterion", "--grid-max", "--delta",
)  # fmt: skip


@dataclass(frozen=True)
class Settings:
    """The options, checked, with their defaults filled in."""

    method: str
    pthresh: float | None
    max_order: int | None
    model: tuple[str, ...]
    bootstrap: int
    seed: int
    merges: tuple[str, ...]
    omits: tuple[str, ...]
    strata: str | None
    classes: int
    burnin: int
    samples: int
    thinning: int
    chains: int
    edition: int
    region: str | None
    time_limit: float | None
    criterion: str = "bic"
    grid_max: float | None = None
    delta: float | None = None


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
    method: Annotated[str | None, typer.Option("--method", help=METHOD_HELP)] = None,
    pthresh: Annotated[
        float | None,
        typer.Option(
            "--pthresh", help="p-value threshold in [0, 1] (stepwise 0.02, aic-stepwise 0.05)."
        ),
    ] = None,
    max_order: Annotated[
        int | None,
        typer.Option(
            "--max-order",
            help="Largest interaction order for bic and closedpms (1 to lists − 1; closedpms "
            "defaults to Rcapture's lists − 1, or 2 from 6 lists).",
        ),
    ] = None,
    criterion: Annotated[
        str | None,
        typer.Option(
            "--criterion", help="closedpms: rank the models by bic or aic (default bic)."
        ),
    ] = None,
    grid_max: Annotated[
        float | None,
        typer.Option(
            "--grid-max",
            help="dga: largest population the posterior is computed for (R dga's Nmissing "
            "range; default 11 × observed).",
        ),
    ] = None,
    delta: Annotated[
        float | None,
        typer.Option(
            "--delta", help="dga: prior weight of each cell, above 0 (default 2^−lists)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Interaction terms for --method fixed, e.g. 'A:B,B:C'."),
    ] = None,
    bootstrap: Annotated[
        int | None,
        typer.Option(
            "--bootstrap", help="BCa bootstrap replicates (default 0 = none; at most 100,000)."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed, 0 to 2^32 − 1 (default 1234).")
    ] = None,
    merge: Annotated[
        list[str] | None, typer.Option("--merge", help="Merge lists, e.g. PF+NCA (repeatable).")
    ] = None,
    omit: Annotated[
        list[str] | None, typer.Option("--omit", help="Omit a list (repeatable).")
    ] = None,
    strata: Annotated[
        str | None, typer.Option("--strata", help="Column to stratify by; strata are summed.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report with charts (mode 0600).")
    ] = None,
    lang: Annotated[
        str,
        typer.Option("--lang", help="Language of the --report of one estimate: en or fr."),
    ] = "en",
    classes: Annotated[
        int | None, typer.Option("--classes", help="LCMCR latent classes K, 1–1,000 (default 5).")
    ] = None,
    burnin: Annotated[
        int | None,
        typer.Option("--burnin", help="LCMCR burn-in sweeps, 0 or more (default 100,000)."),
    ] = None,
    samples: Annotated[
        int | None, typer.Option("--samples", help="LCMCR kept draws, 1–1,000,000 (default 1,000).")
    ] = None,
    thinning: Annotated[
        int | None, typer.Option("--thinning", help="LCMCR thinning, 1 or more (default 100).")
    ] = None,
    chains: Annotated[
        int | None,
        typer.Option(
            "--chains",
            help="LCMCR independent chains, 1–64 (default 4); their draws are pooled and a "
            "warning names each chain's median when they disagree.",
        ),
    ] = None,
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
    edition: Annotated[
        int | None, typer.Option("--edition", help="ILO edition: 2014 or 2024 (default 2024).")
    ] = None,
    roles: Annotated[
        str | None,
        typer.Option(
            "--roles",
            help="With --profits store: HTCDS participant roles to count, comma-separated "
            "(default Victim,PresumedVictim).",
            show_default=False,
        ),
    ] = None,
    allow_long: Annotated[
        bool,
        typer.Option(
            "--allow-long",
            help="Run even beyond the time limits (lists per method, LCMCR sweeps, a bootstrap "
            "projected past 2 minutes).",
        ),
    ] = False,
) -> None:
    """Estimate the hidden population by Multiple Systems Estimation.

    `tiphub estimate robustness PATH --report OUT.html` compares every method and every
    single list merge or omission.
    """
    from tiphub.estimate.loglinear import EstimationError
    from tiphub.estimate.profits import ProfitFigureError
    from tiphub.estimate.table import CaptureTableError

    robustness_mode = target == "robustness" and robustness_path is not None
    if robustness_path is not None and not robustness_mode:
        _usage("give one CSV, or 'robustness' and a CSV")
    if target == "robustness" and robustness_path is None and not Path(target).exists():
        _usage("'estimate robustness' needs the CSV after it")
    path = robustness_path if robustness_path is not None else Path(target)
    given: dict[str, object] = {
        "--method": method, "--pthresh": pthresh, "--max-order": max_order, "--model": model,
        "--bootstrap": bootstrap, "--strata": strata, "--classes": classes, "--burnin": burnin,
        "--samples": samples, "--thinning": thinning, "--chains": chains, "--profits": profits, "--region": region,
        "--criterion": criterion, "--grid-max": grid_max, "--delta": delta,
        "--edition": edition,
    }  # fmt: skip
    if robustness_mode:
        extra = [name for name in NOT_FOR_ROBUSTNESS if given[name] is not None]
        if extra:
            _usage(
                f"{extra[0]} does not apply to 'estimate robustness', which runs every method "
                "with its own settings (it takes --merge, --omit, --seed, --report, --json, "
                "--allow-long)"
            )
    settings = _check_options(given, seed, merge or [], omit or [], allow_long)
    _check_roles(roles, profits)
    _check_report_path(report, path)
    _check_lang(lang, report, robustness_mode or strata is not None)
    try:
        # Before the file is read: a typo in --profits should not cost a whole estimate.
        mix = _exploitation_mix(profits, roles) if profits else None
        mix_roles = _store_roles(profits, roles)
        with _one_blas_thread():
            if robustness_mode:
                _robustness(path, settings, report, as_json)
            else:
                _estimate(
                    path,
                    settings,
                    report,
                    as_json,
                    mix,
                    lang,
                    mix_source=_mix_source(profits, mix_roles),
                    mix_roles=mix_roles,
                )
    except (CaptureTableError, EstimationError, ProfitFigureError) as error:
        _fail(str(error))
    except (ValueError, ArithmeticError) as error:
        # A fit that breaks down numerically on degenerate data (numpy's and scipy's
        # messages quote no data). A short line, not a traceback.
        _fail(
            f"the estimate failed numerically ({type(error).__name__}: {error}); "
            "the data may not identify the model"
        )


def _write_report(write: Callable[[Path], object], report: Path) -> None:
    try:
        write(report)
    except OSError as error:
        _fail(f"cannot write the report {report} ({error.strerror or error})")


def _usage(message: str) -> NoReturn:
    errors.print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=2)


def _fail(message: str) -> NoReturn:
    # Escaped: file and column names must print as they are, never as console markup.
    errors.print(f"[red]Error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


def _check_options(
    given: Mapping[str, Any],
    seed: int | None,
    merges: list[str],
    omits: list[str],
    allow_long: bool,
) -> Settings:
    """Everything that can be judged without the file; exit 2 on the first problem."""
    from tiphub.estimate.api import METHODS
    from tiphub.estimate.limits import MAX_BOOTSTRAP, MAX_SEED, TIME_LIMIT_SECONDS

    method = given["--method"] or DEFAULT_METHOD
    if method not in METHODS:
        _usage(f"--method must be one of {', '.join(METHODS)}")

    def only_for(option: str, methods: tuple[str, ...]) -> None:
        if given[option] is not None and method not in methods:
            _usage(f"{option} applies to --method {' or '.join(methods)} only, not {method}")

    only_for("--pthresh", PTHRESH_METHODS)
    only_for("--max-order", ("bic", "closedpms"))
    only_for("--criterion", ("closedpms",))
    only_for("--grid-max", ("dga",))
    only_for("--delta", ("dga",))
    delta = given["--delta"]
    if delta is not None and not (math.isfinite(delta) and delta > 0):
        _usage(f"--delta must be a number above 0, got {delta}")
    grid_max = given["--grid-max"]
    if grid_max is not None and not (math.isfinite(grid_max) and grid_max > 0):
        _usage(f"--grid-max must be a number above 0, got {grid_max}")
    criterion = given["--criterion"] or "bic"
    if criterion not in ("bic", "aic"):
        _usage(f"--criterion must be bic or aic, got {criterion!r}")
    only_for("--model", ("fixed",))
    for option in ("--classes", "--burnin", "--samples", "--thinning", "--chains"):
        only_for(option, ("lcmcr",))
    pthresh = given["--pthresh"]
    if pthresh is not None and not 0.0 <= pthresh <= 1.0:  # NaN fails too
        _usage(f"--pthresh must be between 0 and 1, got {pthresh}")
    max_order = given["--max-order"]
    if max_order is not None and max_order < 1:
        _usage(f"--max-order must be 1 or more, got {max_order}")
    bootstrap = given["--bootstrap"]
    if bootstrap is not None:
        if method in ("lcmcr", "dga", "bayesthresh"):
            _usage(
                f"--bootstrap applies to the log-linear methods; {method}'s interval is its "
                "posterior"
            )
        if not 0 <= bootstrap <= MAX_BOOTSTRAP:
            _usage(f"--bootstrap must be between 0 and {MAX_BOOTSTRAP:,}, got {bootstrap}")
    seed = DEFAULT_SEED if seed is None else seed
    if not 0 <= seed <= MAX_SEED:
        _usage(f"--seed must be between 0 and {MAX_SEED:,}, got {seed}")
    classes, burnin, samples, thinning, chains = _lcmcr_options(given)
    strata = given["--strata"]
    if strata is not None:
        if not strata.strip():
            _usage("--strata must name a column")
        if method in ("lcmcr", "dga", "bayesthresh"):
            _usage(f"--strata works with the log-linear methods only, not {method}")
        if given["--profits"] is not None:
            _usage("--profits takes an unstratified estimate; drop --strata")
        if bootstrap == 0:
            _usage("--strata needs bootstrap replicates for the interval of the sum (default 200)")
    edition, region = _profit_options(given)
    return Settings(
        method=method,
        pthresh=pthresh,
        max_order=max_order,
        model=_model_terms(given["--model"]),
        bootstrap=bootstrap or 0,
        seed=seed,
        merges=tuple(_merge_parts(text) for text in merges),
        omits=tuple(_omit_name(text) for text in omits),
        strata=strata.strip() if strata is not None else None,
        classes=classes,
        burnin=burnin,
        samples=samples,
        thinning=thinning,
        chains=chains,
        edition=edition,
        region=region,
        time_limit=None if allow_long else TIME_LIMIT_SECONDS,
        criterion=criterion,
        grid_max=grid_max,
        delta=delta,
    )


def _lcmcr_options(given: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    from tiphub.estimate.limits import MAX_CHAINS, MAX_CLASSES, MAX_SAMPLES, MAX_SWEEPS

    def pick(option: str, default: int) -> int:
        value = given[option]
        return default if value is None else int(value)

    classes = pick("--classes", DEFAULT_CLASSES)
    burnin = pick("--burnin", DEFAULT_BURNIN)
    samples = pick("--samples", DEFAULT_SAMPLES)
    thinning = pick("--thinning", DEFAULT_THINNING)
    chains = pick("--chains", DEFAULT_CHAINS)
    if not 1 <= chains <= MAX_CHAINS:
        _usage(f"--chains must be between 1 and {MAX_CHAINS}, got {chains}")
    if not 1 <= classes <= MAX_CLASSES:
        _usage(f"--classes must be between 1 and {MAX_CLASSES:,}, got {classes}")
    if burnin < 0:
        _usage(f"--burnin must be 0 or more, got {burnin}")
    if not 1 <= samples <= MAX_SAMPLES:
        _usage(f"--samples must be between 1 and {MAX_SAMPLES:,}, got {samples}")
    if thinning < 1:
        _usage(f"--thinning must be 1 or more, got {thinning}")
    if burnin + samples * thinning > MAX_SWEEPS:
        _usage(
            f"--burnin + --samples × --thinning must be at most {MAX_SWEEPS:,} sweeps, got "
            f"{burnin + samples * thinning:,}"
        )
    return classes, burnin, samples, thinning, chains


def _profit_options(given: Mapping[str, Any]) -> tuple[int, str | None]:
    from tiphub.estimate.profits import (
        DEFAULT_EDITION,
        FORMS,
        ProfitFigureError,
        choose_profit_figure,
        per_victim_editions,
    )

    for option in ("--region", "--edition"):
        if given[option] is not None and given["--profits"] is None:
            _usage(f"{option} applies with --profits only")
    edition = DEFAULT_EDITION if given["--edition"] is None else int(given["--edition"])
    editions = per_victim_editions()
    if edition not in editions:
        _usage(f"--edition must be one of {', '.join(map(str, editions))}, got {edition}")
    region = given["--region"]
    if region is not None:
        try:
            choose_profit_figure(FORMS[0], region=region, edition=edition)
        except ProfitFigureError as error:
            _usage(str(error))
    return edition, region


def _model_terms(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    terms = [term.strip() for term in text.split(",")]
    if not any(terms):
        _usage("--model names no terms; give interactions such as A:B,B:C (or use --method main)")
    for term in terms:
        parts = [part.strip() for part in term.split(":")]
        if not term or any(not part for part in parts) or len(parts) < 2:
            _usage(
                "--model takes interactions of two or more lists joined by ':' and separated by "
                "',', e.g. A:B,B:C (main effects are always in)"
            )
        if len(set(parts)) != len(parts):
            _usage("--model: a term names the same list twice")
    return tuple(terms)


def _merge_parts(text: str) -> str:
    parts = [part.strip() for part in text.split("+")]
    if len(parts) < 2 or any(not part for part in parts):
        _usage("--merge takes two or more lists joined by '+', e.g. PF+NCA")
    if len(set(parts)) != len(parts):
        _usage("--merge names the same list twice")
    return "+".join(parts)


def _omit_name(text: str) -> str:
    if not text.strip():
        _usage("--omit must name a list")
    return text.strip()


def _check_roles(roles: str | None, profits: str | None) -> None:
    """``--roles`` chooses whom ``--profits store`` counts; a table's roles are set when it is
    linked (``tiphub link --roles``)."""
    if roles is None:
        return
    if profits is None or profits.strip() != "store":
        _usage(
            "--roles applies with --profits store only; the people a capture-history table "
            "counts are chosen when it is made: tiphub link --roles ... --capture-histories"
        )
    from tiphub.linkage.store_records import RoleError, parse_roles

    try:
        parse_roles(roles)
    except RoleError as error:
        _usage(str(error))


def _check_report_path(report: Path | None, source: Path) -> None:
    if report is None:
        return
    if report.is_dir() or (report.exists() and not report.is_file()):
        _usage(f"--report must name a file, and {report} is a folder or device")
    with contextlib.suppress(OSError):
        if report.exists() and source.exists() and os.path.samefile(report, source):
            _usage("--report names the input file; it would be overwritten")


def _check_lang(lang: str, report: Path | None, english_only: bool) -> None:
    from tiphub.estimate.explain_texts import LANGUAGES

    if lang not in LANGUAGES:
        _usage(f"--lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
    if lang == "en":
        return
    if report is None:
        _usage("--lang sets the language of the report; add --report OUT.html")
    if english_only:
        _usage(
            "--lang applies to the report of one estimate; the robustness and strata reports "
            "are in English only"
        )


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread while estimating.

    The design matrices are small (at most 65,535 × 137), so threads bring nothing, and on a
    loaded two-core machine OpenBLAS threads waiting for each other made one SVD a hundred
    times slower (0.14 s single-threaded against 15.9 s), which the time limits cannot foresee.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def _progress(label: str) -> Iterator[ProgressCallback]:
    """A ``(done, total)`` progress bar with the time left, shown only on a terminal."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=errors,
        transient=False,
        disable=not errors.is_terminal,
    ) as progress:
        task = progress.add_task(escape(label), total=1)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _read(path: Path, settings: Settings) -> dict[tuple[str, ...], CaptureTable]:
    from tiphub.estimate.api import apply_list_changes
    from tiphub.estimate.table import read_capture_csv

    tables = read_capture_csv(path, strata=[settings.strata] if settings.strata else [])
    if settings.merges or settings.omits:
        tables = {
            key: apply_list_changes(table, settings.merges, settings.omits)
            for key, table in tables.items()
        }
    return tables


def _estimate(
    path: Path,
    settings: Settings,
    report: Path | None,
    as_json: bool,
    mix: dict[str, int] | None,
    lang: str = "en",
    mix_source: str = "",
    mix_roles: tuple[str, ...] | None = None,
) -> None:
    from tiphub.estimate.api import estimate, estimate_strata

    tables = _read(path, settings)
    sidecar, linkage = _read_sidecar(path, settings)
    common: dict[str, Any] = {
        "pthresh": settings.pthresh,
        "max_order": settings.max_order,
        "criterion": settings.criterion,
        "model": list(settings.model),
    }
    if settings.strata:
        named = {"/".join(key): table for key, table in tables.items()}
        with _progress("estimating and bootstrapping the strata") as update:
            stratified = estimate_strata(
                named,
                settings.method,
                replicates=settings.bootstrap or STRATA_BOOTSTRAP,
                seed=settings.seed,
                progress=update,
                time_limit=settings.time_limit,
                **common,
            )
        if sidecar is not None:
            stratified.population_described = _population_described(sidecar, settings)
            stratified.linkage = sidecar.linkage_not_propagated()
        if report is not None:
            from tiphub.estimate.report import write_strata_report

            _write_report(lambda target: write_strata_report(stratified, named, target), report)
        if as_json:
            print(json.dumps(stratified.to_dict(), ensure_ascii=False))
        else:
            print(stratified.summary())
        return
    table = tables[()]
    bootstrap = settings.bootstrap
    if mix is not None and settings.method != "lcmcr" and bootstrap == 0:
        # Profits need draws of the population; the bootstrap provides them.
        bootstrap = PROFIT_BOOTSTRAP
    with _progress(f"estimating ({settings.method})") as update:
        result = estimate(
            table,
            settings.method,
            bootstrap_replicates=bootstrap,
            seed=settings.seed,
            lcmcr_classes=settings.classes,
            lcmcr_burnin=settings.burnin,
            lcmcr_samples=settings.samples,
            lcmcr_thinning=settings.thinning,
            lcmcr_chains=settings.chains,
            grid_max=settings.grid_max,
            delta=settings.delta,
            progress=update,
            time_limit=settings.time_limit,
            linkage=linkage,
            **common,
        )
    if sidecar is not None:
        result.population_described = _population_described(sidecar, settings)
        if not result.linkage:
            result.linkage = sidecar.linkage_not_propagated()
    profit = None
    if mix is not None:
        import warnings

        from tiphub.estimate.profits import estimate_profits

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unverified figures are flagged in the output
            profit = estimate_profits(
                result.population_draws,
                mix,
                region=settings.region,
                edition=settings.edition,
                seed=settings.seed,
            )
        profit = dataclasses.replace(
            profit,
            mix_source=mix_source,
            warnings=[*profit.warnings, *_mix_role_mismatch(result.population_described, mix_roles)],
        )
    if report is not None:
        from tiphub.estimate.report import write_estimate_report

        _write_report(lambda target: write_estimate_report(result, table, target, lang), report)
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
            console.print(f"Report written to {escape(str(report))}")


def _read_sidecar(
    path: Path, settings: Settings
) -> tuple[TableSidecar | None, LinkageError | None]:
    """The table's sidecar (``PATH.json``, written by ``tiphub link``) and its linkage error.

    A sidecar written for another table (other lists, another count) is refused before any
    estimate is made; so are uncertain links the table cannot hold.
    """
    from tiphub.estimate.api import apply_list_changes
    from tiphub.estimate.linkage_error import LinkageError
    from tiphub.estimate.sidecar import check_matches, read_sidecar, sidecar_path
    from tiphub.estimate.table import read_capture_csv

    sidecar = read_sidecar(path)
    if sidecar is None:
        return None, None
    # The table as tiphub link wrote it: the sidecar describes it before any --merge/--omit.
    written = read_capture_csv(path, strata=[settings.strata] if settings.strata else [])
    first = next(iter(written.values()))
    observed = sum(table.observed for table in written.values())
    check_matches(sidecar, observed, set(first.lists), sidecar_path(path).name)
    if sidecar.uncertain_links is None or settings.strata or () not in written:
        return sidecar, None

    def changed(table: CaptureTable) -> CaptureTable:
        return apply_list_changes(table, settings.merges, settings.omits)

    linkage = LinkageError(
        written[()],
        sidecar.uncertain_links,
        sidecar.linkage_summary(),
        changed if settings.merges or settings.omits else None,
    )
    linkage.resampler(settings.seed)  # refuses links the table cannot hold, before the run
    return sidecar, linkage


def _population_described(sidecar: TableSidecar, settings: Settings) -> dict[str, Any]:
    described = dict(sidecar.population)
    if settings.merges or settings.omits:
        described["lists_changed"] = {
            "merged": list(settings.merges),
            "omitted": list(settings.omits),
        }
    return described


def _store_roles(profits: str | None, roles: str | None) -> tuple[str, ...] | None:
    """The roles ``--profits store`` counts, or ``None`` when the mix is given by hand."""
    if profits is None or profits.strip() != "store":
        return None
    from tiphub.linkage.store_records import parse_roles

    return parse_roles(roles)


def _mix_source(profits: str | None, roles: tuple[str, ...] | None) -> str:
    if profits is None:
        return ""
    if roles is None:
        return "the counts given with --profits"
    return f"people recorded as {' or '.join(roles)} in the tiphub database"


def _mix_role_mismatch(
    population: Mapping[str, Any], mix_roles: tuple[str, ...] | None
) -> list[str]:
    """A warning when the mix counts other roles than the estimated population."""
    counted = population.get("roles")
    if mix_roles is None or not counted or set(counted) == set(mix_roles):
        return []
    return [
        f"the mix of exploitation counts {' and '.join(mix_roles)} but the population "
        f"estimate counts {' and '.join(map(str, counted))}: give the same --roles to "
        "'tiphub link' and to --profits store"
    ]


def _exploitation_mix(text: str, roles: str | None = None) -> dict[str, int]:
    """``sexual=120,labour=80`` → counts; ``store`` counts victims in the tiphub database."""
    from tiphub.estimate.loglinear import EstimationError
    from tiphub.estimate.profits import FORMS
    from tiphub.estimate.table import MAX_COUNT

    if text.strip() == "store":
        from tiphub.estimate.profits import exploitation_counts_from_store
        from tiphub.linkage.store_records import parse_roles
        from tiphub.store.db import default_engine

        chosen = parse_roles(roles)
        counts = exploitation_counts_from_store(default_engine(), roles=chosen)
        if not any(counts.values()):
            raise EstimationError(
                f"--profits store: nobody recorded as {' or '.join(chosen)} in the tiphub "
                "database has a recorded form of exploitation (only victims and presumed "
                "victims carry one); choose other --roles or give the mix, e.g. sexual=120"
            )
        return counts
    mix: dict[str, int] = {}
    for part in text.split(","):
        name, _, value = (piece.strip() for piece in part.partition("="))
        if not value.isascii() or not value.isdigit() or not name:
            raise EstimationError(
                f"--profits expects form=count pairs such as sexual=120,labour=80; got {part.strip()!r}"
            )
        if name not in FORMS:
            raise EstimationError(
                f"--profits: unknown form {name!r}; the forms are {', '.join(FORMS)}"
            )
        if name in mix:
            raise EstimationError(f"--profits names {name!r} twice")
        if len(value) > len(str(MAX_COUNT)) or int(value) > MAX_COUNT:
            raise EstimationError(f"--profits: the count for {name} is above {MAX_COUNT:,}")
        mix[name] = int(value)
    if not any(mix.values()):
        raise EstimationError("--profits: every count is zero; the mix of exploitation is unknown")
    return mix


def _robustness(path: Path, settings: Settings, report: Path | None, as_json: bool) -> None:
    from tiphub.estimate.report import robustness

    tables = _read(path, settings)
    table = tables[()]
    sidecar, _ = _read_sidecar(path, settings)
    with _progress("robustness: every method, merge and omission") as update:
        result = robustness(
            table, seed=settings.seed, progress=update, time_limit=settings.time_limit
        )
    if sidecar is not None:
        result.population_described = _population_described(sidecar, settings)
    if report is not None:
        _write_report(result.write_html, report)
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    console.print(result.headline(), markup=False, highlight=False)
    if result.population_described:
        from tiphub.estimate.sidecar import describe_population

        console.print(
            f"Counts: {describe_population(result.population_described)}",
            markup=False,
            highlight=False,
        )
    for sentence in result.disagreements():
        console.print(f"  • {sentence}", markup=False, highlight=False)
    if result.recommendation is not None:
        from tiphub.estimate.recommend import evidence_lines

        console.print(
            f"Simulation check ({result.recommendation.replicates} populations per possible "
            "truth; worst case over the models the data support):",
            markup=False,
            highlight=False,
        )
        for line in evidence_lines(result.recommendation):
            console.print(f"  {line}", markup=False, highlight=False)
    if report is not None:
        console.print(f"Report written to {escape(str(report))}")
