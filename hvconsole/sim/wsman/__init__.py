"""The simulated WS-Management endpoint: WinRS over HTTP(S) on loopback, with fault injection.

Unmodified pywinrm talks to it as to a Windows host. What it emulates and what it does not is
described in docs/architecture.md ("The simulated site").
"""

from .control import EndpointStats, FaultControl
from .endpoint import WsmanEndpoint
from .runner import ProcessOutput, ProcessRunner, SimProcess
from .shells import ShellInfo
from .tls import TlsConfig, issue_certificate

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
