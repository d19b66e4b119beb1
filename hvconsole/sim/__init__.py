"""The embedded simulated site: hosts and VMs with behaviour over time, served through a
real WS-Management endpoint on loopback so the product's real client code runs against it.

``model`` is the site's state over time, ``agent`` answers the shipped PowerShell scripts
from it, ``scenarios`` builds the demo and the test sites, ``wsman`` is the endpoint;
``serve``, ``record`` and ``cli`` put them together (docs/architecture.md)."""
