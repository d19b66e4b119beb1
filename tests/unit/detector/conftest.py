"""Fixtures for detector tests: a fresh fake site, and helpers to feed it and to pick
findings out of what the detector said."""

from __future__ import annotations

from typing import Iterable

import pytest

from hvconsole.core.detector import Detector, Finding

from .builders import FakeSite


@pytest.fixture
def site() -> FakeSite:
    return FakeSite()


class Run:
    """A detector fed from a fake site, remembering every change it reported."""

    def __init__(self, site: FakeSite, detector: Detector | None = None) -> None:
        self.site = site
        self.detector = detector or Detector()
        self.changes: list[Finding] = []

    def run(self, seconds: float) -> "Run":
        for snap in self.site.run(seconds):
            self.changes.extend(self.detector.feed(snap))
        return self

    def findings(self, *, kind: str | None = None, vm: str | None = None, host: str | None = None,
                 severity: str | None = None, active: bool | None = None) -> list[Finding]:
        return select(self.detector.all(), kind=kind, vm=vm, host=host, severity=severity, active=active)

    def critical(self) -> list[Finding]:
        return self.findings(severity="critical")


def select(findings: Iterable[Finding], *, kind: str | None = None, vm: str | None = None,
           host: str | None = None, severity: str | None = None, active: bool | None = None) -> list[Finding]:
    return [f for f in findings
            if (kind is None or f.kind == kind) and (vm is None or f.vm_name == vm)
            and (host is None or f.host == host) and (severity is None or f.severity == severity)
            and (active is None or f.active == active)]


@pytest.fixture
def run(site: FakeSite) -> Run:
    return Run(site)
