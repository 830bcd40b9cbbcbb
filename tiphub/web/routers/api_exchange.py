"""Imports (an uploaded file) and exports (a file to download within 15 minutes).

Both stay inside the caller's organisation. Uploaded and exported files live only in this
process's private temporary folder (0700, removed at exit); an upload is removed as soon as
it is imported, an export when it expires. An export with identity is always sealed with
the caller's passphrase (``tiphub.exchange.sealed_export``).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from tiphub.cases import audit
from tiphub.cases.access import PermissionDeniedError, Principal
from tiphub.exchange import exporter, importer
from tiphub.exchange.sealed_export import MIN_PASSPHRASE_LENGTH, seal_file
from tiphub.files import private_subdir, write_private_text
from tiphub.web.problems import ProblemError
from tiphub.web.schemas import (
    ExportOut,
    ExportRequest,
    ImportFormat,
    ImportIssueOut,
    ImportReport,
)
from tiphub.web.security import engine_of, requires

router = APIRouter(tags=["exchange"])
EXPORT_MINUTES = 15
UPLOAD_SUFFIXES = (".csv", ".xlsx", ".xlsm", ".jsonl", ".ndjson")
COPY_CHUNK = 1024 * 1024
EXPORT_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
EXPORT_FILES = {
    "htcds-csv": ("tiphub-htcds.csv", "text/csv"),
    "htcds-xlsx": (
        "tiphub-htcds.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    "jsonl": ("tiphub-cases.jsonl", "application/x-ndjson"),
    "ctdc": ("tiphub-ctdc.csv", "text/csv"),
    "ctdc-global": ("tiphub-ctdc-global.csv", "text/csv"),
}
# Formats whose rows hold no identity and no free text: all a de-identified role may take out.
DEIDENTIFIED_FORMATS = ("ctdc", "ctdc-global")
ORGANISATION_MISMATCH = "differs from the organisation given with --organisation"


# -- imports ----------------------------------------------------------------------------------


def _save_upload(upload: UploadFile, limit: int) -> Path:
    suffix = Path(upload.filename or "").suffix.lower()
    folder = private_subdir("uploads")
    target = folder / f"{secrets.token_hex(16)}{suffix if suffix in UPLOAD_SUFFIXES else ''}"
    written = 0
    try:
        with open(target, "xb") as handle:
            target.chmod(0o600)
            while chunk := upload.file.read(COPY_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise ProblemError(413, f"the file is larger than {limit // (1024 * 1024)} MiB")
                handle.write(chunk)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


@router.post("/imports")
def import_cases(
    file: UploadFile,
    request: Request,
    principal: Annotated[Principal, Depends(requires("import:run"))],
    format: Annotated[ImportFormat | None, Form()] = None,
) -> ImportReport:
    if principal.organisation is None:
        raise ProblemError(403, "the operator imports with the command line")
    engine = engine_of(request)
    path = _save_upload(file, request.app.state.settings.max_upload_bytes)
    try:
        result = importer.import_file(
            path,
            format,
            organisation=principal.organisation,
            engine=engine,
            actor=principal.username,
        )
    finally:
        path.unlink(missing_ok=True)
    foreign = any(issue.reason == ORGANISATION_MISMATCH for issue in result.issues)
    counts = result.counts
    audit.record_now(
        engine,
        principal,
        "import.run",
        resource_type="import",
        resource_id=result.batch_id,
        outcome="ok" if result.ok else ("refused" if foreign else "rejected"),
        details=result.audit_details(),
    )
    if foreign:
        raise PermissionDeniedError(
            "the file holds cases of another organisation; nothing was imported"
        )
    return ImportReport(
        ok=result.ok,
        format=result.format,
        cases=result.cases,
        rows=result.rows,
        created=counts.cases_created,
        updated=counts.cases_updated,
        unchanged=counts.cases_unchanged,
        # The issue's own value is left out: it may be a survivor's name typed in a code column.
        issues=[
            ImportIssueOut(row=issue.row, column=issue.column, reason=issue.reason)
            for issue in result.issues
        ],
    )


# -- exports ----------------------------------------------------------------------------------


def _exports_folder() -> Path:
    return private_subdir("exports")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def sweep_expired_exports(now: dt.datetime | None = None) -> int:
    """Remove exports past their time (and any file without its description); how many."""
    now = now or _now()
    folder = _exports_folder()
    removed = 0
    for meta_path in folder.glob("*.json"):
        try:
            meta = json.loads(meta_path.read_text("utf-8"))
            expired = dt.datetime.fromisoformat(meta["expires_at"]) <= now
        except (OSError, ValueError, KeyError, TypeError):
            expired = True
        if expired:
            meta_path.with_suffix(".data").unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            removed += 1
    for data_path in folder.glob("*.data"):
        if not data_path.with_suffix(".json").exists():
            data_path.unlink(missing_ok=True)
    for leftover in folder.glob("*.plain"):
        leftover.unlink(missing_ok=True)
    return removed


def _check_export(body: ExportRequest, principal: Principal) -> None:
    if not principal.operator and principal.scope != "organisation":
        raise PermissionDeniedError("exporting needs an organisation-wide role")
    if principal.organisation is None:
        raise ProblemError(403, "the operator exports with the command line")
    if not principal.sees_identity:
        if body.include_identity:
            raise PermissionDeniedError("your role exports de-identified records only")
        if body.format not in DEIDENTIFIED_FORMATS:
            raise PermissionDeniedError(
                "your role exports only the de-identified formats: "
                + ", ".join(DEIDENTIFIED_FORMATS)
            )
    if body.include_identity and (
        body.passphrase is None or len(body.passphrase) < MIN_PASSPHRASE_LENGTH
    ):
        raise ProblemError(
            422,
            f"an export with identity is sealed: give a passphrase of at least "
            f"{MIN_PASSPHRASE_LENGTH} characters",
        )
    if body.passphrase is not None and len(body.passphrase) < MIN_PASSPHRASE_LENGTH:
        raise ProblemError(422, f"a passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters")


@router.post("/exports", status_code=201)
def create_export(
    body: ExportRequest,
    request: Request,
    response: Response,
    principal: Annotated[Principal, Depends(requires("export:run"))],
) -> ExportOut:
    _check_export(body, principal)
    sweep_expired_exports()
    engine = engine_of(request)
    export_id = secrets.token_urlsafe(24)
    folder = _exports_folder()
    plain = folder / f"{export_id}.plain"
    data = folder / f"{export_id}.data"
    sealed = body.passphrase is not None
    try:
        result = exporter.export(
            plain,
            body.format,
            engine=engine,
            organisation=principal.organisation,
            include_identity=body.include_identity,
        )
        if sealed:
            assert body.passphrase is not None
            seal_file(plain, data, body.passphrase)
        else:
            plain.replace(data)
    finally:
        plain.unlink(missing_ok=True)
    expires_at = _now() + dt.timedelta(minutes=EXPORT_MINUTES)
    name, media_type = EXPORT_FILES[body.format]
    meta: dict[str, Any] = {
        "owner": principal.username,
        "expires_at": expires_at.isoformat(),
        "filename": f"{name}.sealed" if sealed else name,
        "media_type": "application/octet-stream" if sealed else media_type,
    }
    write_private_text(folder / f"{export_id}.json", json.dumps(meta))
    audit.record_now(
        engine,
        principal,
        "export.run",
        resource_type="export",
        resource_id=export_id,
        details={
            "format": body.format,
            "cases": result.cases,
            "rows": result.rows,
            "identity": body.include_identity,
            "sealed": sealed,
        },
        flagged=body.include_identity,
    )
    download = f"{request.url.path.rstrip('/')}/{export_id}"
    response.headers["Location"] = download
    return ExportOut(id=export_id, expires_at=expires_at, download=download)


@router.get(
    "/exports/{export_id}",
    response_class=FileResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"description": "Gone"}},
)
def download_export(
    export_id: Annotated[str, PathParam(pattern=EXPORT_ID_PATTERN)],
    request: Request,
    principal: Annotated[Principal, Depends(requires("export:run"))],
) -> FileResponse:
    sweep_expired_exports()
    folder = _exports_folder()
    meta_path = folder / f"{export_id}.json"
    data = folder / f"{export_id}.data"
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except (OSError, ValueError):
        meta = None
    # Someone else's export is as invisible as an expired one.
    if meta is None or meta.get("owner") != principal.username or not data.is_file():
        raise ProblemError(404, "no such export, or it has expired (exports last 15 minutes)")
    audit.record_now(
        engine_of(request),
        principal,
        "export.download",
        resource_type="export",
        resource_id=export_id,
    )
    return FileResponse(data, media_type=meta["media_type"], filename=meta["filename"])
