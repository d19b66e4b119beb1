"""The Health check in the window (issue 14): ``HealthService`` runs the audits off the GUI
thread at start and every 15 minutes; ``open_health_view`` shows them; ``VmProblemsPanel``
is one VM's part for the VM detail window; ``save_health_screenshot`` renders the view of
the demo site to a PNG. See docs/health-check.md "In the window" for the hookups."""

from .service import INTERVAL_S, HealthService
from .view import HealthDialog, HealthView, VmProblemsPanel, open_health_view

__all__ = ["INTERVAL_S", "HealthService", "HealthDialog", "HealthView", "VmProblemsPanel", "open_health_view",
           "save_health_screenshot"]


def save_health_screenshot(path: str, **kwargs: float) -> int:
    from .screenshot import save_health_screenshot as save
    return save(path, **kwargs)
