"""The simulated WS-Management endpoint: WinRS over HTTP(S) on loopback, with fault injection.

Unmodified pywinrm talks to it as to a Windows host. What it emulates and what it does not is
described in docs/architecture.md ("The simulated site").
"""

from typing import TYPE_CHECKING, Any

from .control import EndpointStats, FaultControl
from .endpoint import WsmanEndpoint
from .runner import ProcessOutput, ProcessRunner, SimProcess
from .shells import ShellInfo

if TYPE_CHECKING:
    from .tls import TlsConfig, issue_certificate


def __getattr__(name: str) -> Any:
    # The TLS half (cryptography's X.509) is imported when first asked for: a plain HTTP
    # endpoint (the demo site's) never needs it.
    if name in ("TlsConfig", "issue_certificate"):
        from . import tls
        return getattr(tls, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "EndpointStats",
    "FaultControl",
    "ProcessOutput",
    "ProcessRunner",
    "ShellInfo",
    "SimProcess",
    "TlsConfig",
    "WsmanEndpoint",
    "issue_certificate",
]
