"""Page 7, *Review*: the whole plan on one page with the exact actions per host, in the
order the run takes them. This is the commit page: **nothing touches a host before the
admin presses "Start run" here**. Pressing it writes the run into the journal and hands it
to the run controller; the wizard cannot go back past it."""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWizard

from .page_base import BAD_COLOR, OK_COLOR, WizardPageBase
from .services import EngineError, JournalError, PlanError, with_notice


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def review_html(state: Any, review: Any) -> str:
    """The review as rich text. Every value is escaped: VM and host names are data."""
    plan, draft = state.plan, state.draft
    update = state.catalog.get(plan.kb)
    parts = [f"<h3>{_e(plan.kb)}: {_e(update.title if update else '')}</h3>"]
    if review.problems:
        parts.append("<p style='color:#b00020'><b>Cannot start:</b></p><ul>"
                     + "".join(f"<li>{_e(p)}</li>" for p in review.problems) + "</ul>")
    parts.append("<table cellspacing=0 cellpadding=3>")
    rows = [("Test ring", ", ".join(plan.pilot.hosts) + f" (then a {plan.gate.soak_minutes:g} min soak and "
             "your “Promote to production”)")]
    rows += [(w.name.capitalize(), ", ".join(w.hosts)) for w in plan.waves[1:]]
    how_staged = "pushed over SMB" if plan.package.kind == "smb-push" else "already on the hosts"
    rows += [("Hosts at a time", plan.pilot.parallel),
             ("On a failure", "the rollout stops" if plan.stop_on_failure else "the others go on"),
             ("Package", f"{plan.package.location} ({how_staged})"
              + (f", SHA-256 {plan.package.sha256}" if plan.package.sha256 else "")),
             ("Window", f"{draft.window_start:%Y-%m-%d %H:%M} UTC" if draft.window_start else "now")]
    if state.kept_out:
        rows.append(("Kept out by pre-flight", "; ".join(f"{h}: {why}" for h, why in state.kept_out.items())))
    parts += [f"<tr><td><b>{_e(k)}</b></td><td>{_e(v)}</td></tr>" for k, v in rows]
    parts.append("</table>")
    if getattr(review, "run_actions", None):
        parts.append("<h4>The run</h4><ol>" + "".join(f"<li>{_e(a)}</li>" for a in review.run_actions) + "</ol>")
    parts.append("<h4>What happens on each host, in order</h4>")
    for host in plan.hosts:
        down = review.downtime_minutes.get(f"host:{host}")
        parts.append(f"<p><b>{_e(host)}</b>" + (f" (out of service about {down:.0f} min)" if down else "") + "</p><ol>")
        parts += [f"<li>{_e(a)}</li>" for a in review.actions.get(host, [])]
        parts.append("</ol>")
    note = getattr(review, "downtime_note", "")
    if note:
        parts.append(f"<p style='color:#5f6b7a'>Downtime {_e(note)}</p>")
    return "".join(parts)


class ReviewPage(WizardPageBase):
    def __init__(self, parent: Any = None):
        super().__init__("Review", "Everything on one page. Nothing has been changed on any host yet: the run "
                         "starts when you press “Start run”.", parent)
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start run")
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)

    def initializePage(self) -> None:
        state, planning = self.state, self.wiz.planning
        state.review = None
        try:
            state.plan = state.build()
        except PlanError as exc:
            state.plan = None
            self.view.clear()
            self.say(str(exc), BAD_COLOR)
            return
        plan, snaps, contact = state.plan, dict(state.snaps), state.draft.contact
        self.view.setPlainText("Reviewing the plan…")
        self.run_off_thread(lambda cancel: planning.review(plan, snaps, contact=contact), self._reviewed,
                            "the review")

    def _reviewed(self, review: Any) -> None:
        self.state.review = review
        self.state.plan = with_notice(self.state.plan, review)     # the notice is stored with the run
        self.view.setHtml(review_html(self.state, review))
        if review.problems:
            self.say("Fix the problems above (go back) before the run can start.", BAD_COLOR)
        else:
            self.say("Ready. “Start run” writes the run into the journal and starts with the test ring.", OK_COLOR)

    def isComplete(self) -> bool:
        review = self.state.review
        return not self.busy and review is not None and not review.problems and self.state.plan is not None

    def validatePage(self) -> bool:
        """The commit: the run is created, then executed on the run controller's thread."""
        try:
            self.state.run_id = self.wiz.start_run(self.state.plan)
        except (EngineError, JournalError, PlanError, OSError) as exc:
            self.say(f"The run was not started: {exc}", BAD_COLOR)
            return False
        return True
