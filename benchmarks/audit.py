"""What one health-check audit costs: audit.ps1 against the served demo site through the
real client (HTTP requests, answer size, wall time, judge time) and the script's size in
the shell environment. Prints numbers; never a pass/fail test.

    python benchmarks/audit.py [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hvconsole.core.health import AuditContext, HealthThresholds, judge_host  # noqa: E402
from hvconsole.remote import loader  # noqa: E402
from hvconsole.remote.audit import Auditor  # noqa: E402
from hvconsole.remote.target import Target  # noqa: E402
from hvconsole.sim.scenarios.demo import build_demo_site  # noqa: E402
from hvconsole.sim.serve import serve_site  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    encoded = loader.encode_body(loader.script_body("audit"))
    print(f"audit.ps1: {len(loader.script_body('audit')):,} characters, {len(encoded):,} in the shell "
          f"environment ({len(encoded) / 32767:.0%} of one variable)")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    site = build_demo_site()
    with serve_site(site, latency_scale=0.0) as served:
        for host in served.hosts:
            target = Target(name=host.name, url=host.url, username=host.user, password=host.password,
                            transport="plaintext")
            auditor = Auditor(target, timeout_s=60)
            walls, judges, requests, sizes, problems = [], [], [], [], 0
            try:
                for _ in range(args.rounds):
                    before = auditor.session.requests_sent
                    started = time.perf_counter()
                    audit = auditor.read()
                    walls.append((time.perf_counter() - started) * 1000)
                    requests.append(auditor.session.requests_sent - before)
                    assert audit.facts is not None, audit.error_message
                    sizes.append(len(str(audit.answer)))
                    started = time.perf_counter()
                    judgement = judge_host(host.name, audit.facts, HealthThresholds(), AuditContext(now=site.now()))
                    judges.append((time.perf_counter() - started) * 1000)
                    problems = len(judgement.problems)
            finally:
                auditor.close()
            print(f"{host.name}: {len(audit.facts.vms)} VMs, {problems} problems; audit median "
                  f"{statistics.median(walls):.0f} ms (first {walls[0]:.0f} ms, incl. shell creation), "
                  f"requests {requests[0]} first / {statistics.median(requests[1:] or requests):.0f} after, "
                  f"answer ~{statistics.median(sizes) / 1024:.1f} kB, judge {statistics.median(judges):.2f} ms")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
