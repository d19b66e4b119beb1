"""A demo site served by another process, found through its state file: its clock is known
only when the state file says where the simulated clock stood at a wall-clock moment;
otherwise the Site says "real time" (None) rather than guess."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

from hvconsole import paths
from hvconsole.core.timeutil import format_time
from hvconsole.site import open_demo_site

HOSTS = [{"host": "HV01", "url": "http://127.0.0.1:5985/wsman", "user": "demo", "password": "x"}]


def state_file(home, **extra) -> None:
    # pid: this process, which is alive, as a serving process would be.
    doc = {"pid": os.getpid(), "site": "demo", "hosts": HOSTS, **extra}
    (home / "demo-site.json").write_text(json.dumps(doc), encoding="utf-8")


def test_the_serving_process_clock_is_followed_at_its_speed(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    wall = datetime.now(timezone.utc) - timedelta(seconds=10)
    sim = datetime(2026, 1, 1, tzinfo=timezone.utc)
    state_file(tmp_path, speed=6.0, sim_now=format_time(sim), written_at=format_time(wall))
    site = open_demo_site(speed=99.0, embedded=False)
    assert site.speed == 6.0 and site.simulated and site.kind == "demo" and site.embedded is None
    assert f"served by process {os.getpid()}" in site.description
    ahead = (site.clock() - sim).total_seconds()
    assert 59.0 <= ahead <= 120.0           # 10 s of wall time at 6x, plus a loaded machine's slack
    assert site.close() is True             # nothing of ours to stop


def test_without_the_clock_fields_the_clock_is_unknown_and_a_bad_speed_is_one(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    state_file(tmp_path, speed="fast")
    site = open_demo_site(embedded=False)
    assert site.clock is None and site.speed == 1.0
    assert site.names() == ["HV01"] and site.target("hv01").transport == "plaintext"


def test_a_served_site_writes_where_its_clock_stands_and_the_site_follows_it(tmp_path, monkeypatch):
    """The real writer: `hvconsole-sim serve --state-file` puts the simulated clock into the
    state file, so a window or a patch run in another process uses the site's time."""
    from hvconsole.sim import serve
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path))
    served = serve.start_demo(speed=30.0, site="demo")
    try:
        serve.write_state_file(serve.default_state_file(), served, site="demo", speed=30.0)
        site = open_demo_site(embedded=False)
        assert site.clock is not None
        gap = abs((site.clock() - served.site.clock.now()).total_seconds())
        assert gap < 30.0                   # about one real second of slack at 30x
    finally:
        served.stop()
