"""`/libraries`: create, list, change, delete, scan."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from metarr.api.deps import ContainerDep, PathId
from metarr.api.schemas import LibraryIn, LibraryOut, LibraryPatch, ScanIn, ScanOut
from metarr.services.libraries import Library, LibraryChanges

router = APIRouter(prefix="/libraries", tags=["libraries"])


def _out(lib: Library) -> LibraryOut:
    data = asdict(lib)
    data["ignore_patterns"] = list(lib.ignore_patterns)
    return LibraryOut(**data)


@router.get("")
def list_libraries(container: ContainerDep) -> list[LibraryOut]:
    """Every library."""
    return [_out(lib) for lib in container.libraries.list()]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_library(body: LibraryIn, container: ContainerDep) -> LibraryOut:
    """Add a library after validating its path."""
    return _out(container.libraries.create(**body.model_dump()))


@router.get("/{library_id}")
def get_library(library_id: PathId, container: ContainerDep) -> LibraryOut:
    """One library."""
    return _out(container.libraries.get(library_id))


@router.patch("/{library_id}")
def patch_library(library_id: PathId, body: LibraryPatch, container: ContainerDep) -> LibraryOut:
    """Change some fields of a library."""
    changes = LibraryChanges(**body.model_dump(exclude_unset=True))
    return _out(container.libraries.update(library_id, changes))


@router.delete("/{library_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_library(library_id: PathId, container: ContainerDep) -> Response:
    """Remove a library's rows; its media files stay untouched."""
    container.libraries.delete(library_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{library_id}/scan", status_code=status.HTTP_202_ACCEPTED)
def scan_library(
    library_id: PathId, container: ContainerDep, body: Annotated[ScanIn | None, Body()] = None
) -> ScanOut:
    """Queue a scan (the whole library, or `scope`: one folder of it)."""
    run = container.scans.submit(library_id, scope=body.scope if body else None)
    return ScanOut(**asdict(run))
