"""The import page: upload a case file, import it for the uploader's organisation, report."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from tiphub.cases import audit
from tiphub.cases.access import Principal
from tiphub.exchange import importer
from tiphub.files import run_temp_dir
from tiphub.web.pages import render_page
from tiphub.web.security import engine_of, requires

router = APIRouter()
TEMPLATE = "pages/imports_form.html"
TITLE = "Import cases"
# Suffixes the importer recognises; any other upload name is stored as .csv.
KNOWN_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm", ".jsonl", ".ndjson")
COPY_CHUNK = 1024 * 1024


@cache
def uploads_root() -> Path:
    """This process's private temporary folder (0700), removed when the process ends."""
    return run_temp_dir()


def _suffix(filename: str | None) -> str:
    # Only the suffix of the uploaded name is kept: the name itself may say whom it is about.
    suffix = Path(filename or "").suffix.lower()
    return suffix if suffix in KNOWN_SUFFIXES else ".csv"


def _issue_rows(result: importer.ImportResult) -> list[list[str]]:
    return [
        ["" if issue.row is None else str(issue.row), issue.column or "", issue.reason]
        for issue in result.issues
    ]


def _form(
    request: Request, principal: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render_page(
        request,
        TEMPLATE,
        TITLE,
        principal,
        status_code=status_code,
        formats=importer.FORMATS,
        **context,
    )


@router.get("/imports", response_class=HTMLResponse)
def import_form(
    request: Request, principal: Annotated[Principal, Depends(requires("import:run"))]
) -> HTMLResponse:
    return _form(request, principal)


@router.post("/imports", response_class=HTMLResponse)
def run_import(
    request: Request,
    principal: Annotated[Principal, Depends(requires("import:run"))],
    file: Annotated[UploadFile | None, File()] = None,
    format: Annotated[str, Form()] = "",
) -> HTMLResponse:
    if principal.organisation is None:
        return _form(request, principal, 400, error="only a member of an organisation imports here")
    if file is None or not file.filename:
        return _form(request, principal, 422, error="choose a file to import")
    if format and format not in importer.FORMATS:
        return _form(request, principal, 422, error="choose one of the formats offered")
    engine = engine_of(request)
    folder = Path(tempfile.mkdtemp(prefix="import-", dir=uploads_root()))
    try:
        path = folder / f"upload{_suffix(file.filename)}"
        with path.open("xb") as handle:
            shutil.copyfileobj(file.file, handle, COPY_CHUNK)
        path.chmod(0o600)
        result = importer.import_file(
            path,
            format or None,
            organisation=principal.organisation,
            engine=engine,
            actor=principal.username,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    audit.record_now(
        engine,
        principal,
        "import.run",
        resource_type="import",
        resource_id=result.batch_id,
        outcome="ok" if result.ok else "refused",
        details=result.audit_details(),
    )
    return _form(
        request,
        principal,
        200 if result.ok else 422,
        result=result,
        issue_rows=_issue_rows(result),
        chosen_format=result.format,
    )
