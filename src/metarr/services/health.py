"""Health: database reachability and data directory writability."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metarr import __version__
from metarr.db.engine import Database
from metarr.domain.errors import ServiceUnavailable


class HealthService:
    """Checks what Metarr needs to work."""

    def __init__(
        self,
        db: Database,
        data_dir: Path,
        *,
        providers: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.db = db
        self.data_dir = data_dir
        self._providers = providers

    def check(self) -> dict[str, Any]:
        """A report: overall `status` ok/degraded and one entry per check."""
        checks: dict[str, Any] = {}
        try:
            latency = self.db.ping()
            checks["database"] = {
                "status": "ok",
                "backend": self.db.backend,
                "latency_ms": round(latency, 2),
            }
        except ServiceUnavailable as exc:
            checks["database"] = {"status": "error", "backend": self.db.backend, "error": str(exc)}
        try:
            fd, name = tempfile.mkstemp(prefix=".metarr-health-", dir=self.data_dir)
            os.close(fd)
            os.unlink(name)
            checks["data_dir"] = {"status": "ok", "path": str(self.data_dir.resolve())}
        except OSError as exc:
            checks["data_dir"] = {
                "status": "error",
                "path": str(self.data_dir),
                "error": exc.strerror or str(exc),
            }
        ok = all(c["status"] == "ok" for c in checks.values())
        report: dict[str, Any] = {
            "status": "ok" if ok else "degraded",
            "version": __version__,
            "checks": checks,
        }
        if self._providers is not None:
            # informational: a provider without a key or with an open circuit does not
            # make Metarr unhealthy (jobs needing it are deferred, not failed)
            report["providers"] = self._providers()
        return report
