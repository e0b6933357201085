"""`/scans`: progress and result of a scan."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from metarr.api.deps import ContainerDep, PathId
from metarr.api.schemas import ScanOut

router = APIRouter(prefix="/scans", tags=["scans"])


@router.get("/{scan_id}")
def get_scan(scan_id: PathId, container: ContainerDep) -> ScanOut:
    """Status, phase, progress and counters of a scan."""
    return ScanOut(**asdict(container.scans.get(scan_id)))


@router.post("/{scan_id}/cancel")
def cancel_scan(scan_id: PathId, container: ContainerDep) -> ScanOut:
    """Ask a queued or running scan to stop."""
    return ScanOut(**asdict(container.scans.cancel(scan_id)))
