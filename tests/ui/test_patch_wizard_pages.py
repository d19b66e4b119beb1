"""Wizard pieces that need no hosts: the Package page refusing a missing or mismatching
local file (hashed with a progress bar), the custom catalog entry, the review's escaping of
host-provided names, and the notice as .eml and mailto: URL."""

from __future__ import annotations

import email
import hashlib
import json
from email import policy
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

from hvconsole.core.patch.notice import AffectedVm
from hvconsole.core.patch.plan import PackageSource, PatchPlan, Wave
from hvconsole.patch.planning import PlanningService, PlanReview
from hvconsole.patch.sites import HostDirectory
from hvconsole.ui.patch.autopilot import wait_for
from hvconsole.ui.patch.custom_entry import CustomEntryDialog
from hvconsole.ui.patch.notice_mail import eml_bytes, mailto_url
from hvconsole.ui.patch.page_review import review_html
from hvconsole.ui.patch.services import load_site_catalog
from hvconsole.ui.patch.state import WizardState
from hvconsole.ui.patch.wizard import PACKAGE, PatchWizard
from wizard_support import home, parse_html  # noqa: F401

KB = "KB5061906"


def offline_wizard(qtbot):
    """A wizard whose session has no hosts: only pages that need none are used."""
    catalog = load_site_catalog()
    session = SimpleNamespace(site=SimpleNamespace(label="no hosts", speed=1.0),
                              planning=PlanningService(HostDirectory([]), catalog))
    state = WizardState(catalog=catalog)
    state.draft.kb, state.draft.pilot = KB, ["HV01"]
    wizard = PatchWizard(session, state)
    qtbot.addWidget(wizard)
    return wizard


def check_local(qtbot, wizard, path, sha=""):
    page = wizard.page_of(PACKAGE)
    page.push.setChecked(True)
    page.local_path.setText(str(path))
    page.sha.setText(sha)
    page.check()
    wait_for(lambda: not page.busy, 30, "the package check")
    return page


def test_package_page_refuses_a_missing_file(home, qtbot, tmp_path):
    wizard = offline_wizard(qtbot)
    page = check_local(qtbot, wizard, tmp_path / "nowhere.msu")
    assert not page.isComplete()
    assert page.status.text().startswith("Refused:") and "nowhere.msu" in page.status.text()


def test_package_page_refuses_a_mismatching_file_and_accepts_the_right_one(home, qtbot, tmp_path):
    package = tmp_path / "windows10.0-kb5061906-x64.msu"
    package.write_bytes(b"\x00" * (3 * 2**20 + 17))      # several chunks: the progress bar moves
    wizard = offline_wizard(qtbot)
    page = check_local(qtbot, wizard, package, sha="0" * 64)
    assert not page.isComplete() and "not the package" in page.status.text()
    right = hashlib.sha256(package.read_bytes()).hexdigest()
    page = check_local(qtbot, wizard, package, sha=right)
    assert page.isComplete(), page.status.text()
    assert page.progress.isVisibleTo(page) and page.progress.value() == page.progress.maximum()
    assert wizard.state.package.sha256 == right and wizard.state.draft.package_kind == "smb-push"
    # Changing the choice afterwards makes the page ask again.
    page.local_path.setText(str(tmp_path / "other.msu"))
    page.local_path.textEdited.emit(page.local_path.text())
    assert not page.isComplete()


def test_custom_catalog_entry_is_saved_and_read_back(home, qtbot):
    from hvconsole import paths
    folder = paths.config_dir() / "catalog.d"
    dialog = CustomEntryDialog(folder)
    qtbot.addWidget(dialog)
    dialog.kb.setText("not a kb")
    dialog.title.setText("x")
    dialog._save()
    assert dialog.saved_kb is None and dialog.error.text() and not folder.exists()
    dialog.kb.setText("kb5099999")
    dialog.title.setText("Emergency fix for the next freeze")
    dialog.product.setCurrentText("Windows Server 2022")
    dialog.min_ubr.setValue(4000)
    dialog.package.setText("windows10.0-kb5099999-x64.msu")
    dialog._save()
    assert dialog.saved_kb == "KB5099999"
    saved = json.loads((folder / "custom-KB5099999.json").read_text(encoding="utf-8"))
    assert saved["updates"][0]["targets"][0] == {"product": "Windows Server 2022", "build": 20348,
                                                  "min_ubr": 4000, "track": "standard"}
    update = load_site_catalog().get("KB5099999")
    assert update is not None and update.target_for(20348).version == "20348.4000"


def test_review_escapes_host_provided_names(qtbot):
    hostile = "<img src=x onerror=alert(1)>"
    plan = PatchPlan(kb=KB, waves=(Wave("pilot", ("HV01",)), Wave("production wave 1", ("HV&02",))),
                     package=PackageSource("on-host", "C:\\hvconsole\\packages\\<p>.msu", None))
    state = SimpleNamespace(plan=plan, draft=SimpleNamespace(window_start=None), catalog=load_site_catalog(),
                            kept_out={"HV<03>": "blocks: <b>vmms</b> is Stopped"})
    review = PlanReview([f"VM {hostile} is merging"], [], [AffectedVm("1", hostile, "HV01", "Running")],
                        {"HV01": [f"saves 1 VM ({hostile})"], "HV&02": ["reboots"]}, {"host:HV01": 5.0}, "notice")
    text = review_html(state, review)
    page = parse_html(text)
    assert page.tags <= {"h3", "h4", "p", "b", "ul", "ol", "li", "table", "tr", "td"}, page.tags
    assert hostile in "".join(page.text) and "HV&02" in "".join(page.text) and "<b>vmms</b>" in "".join(page.text)


def test_notice_as_eml_and_mailto():
    notice = "Subject: Planned maintenance of Hyper-V hosts: KB5061906\n\nWe will install KB5061906 on HV01 & HV02.\nBye"
    mail = email.message_from_bytes(eml_bytes(notice, "ops@example.com"), policy=policy.default)
    assert mail["Subject"] == "Planned maintenance of Hyper-V hosts: KB5061906"
    assert mail["To"] == "ops@example.com" and mail["X-Unsent"] == "1"
    assert mail.get_content().startswith("We will install KB5061906 on HV01 & HV02.")
    url = mailto_url(notice, "ops@example.com")
    parts = urlsplit(url)
    assert parts.scheme == "mailto" and parts.path == "ops@example.com"
    query = parse_qs(parts.query)
    assert query["subject"] == ["Planned maintenance of Hyper-V hosts: KB5061906"]
    assert query["body"] == ["We will install KB5061906 on HV01 & HV02.\r\nBye"]
