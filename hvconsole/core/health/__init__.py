"""The host and VM health check (issue 14): rules as data, pure judging, configurable
thresholds, the audit-v1 report. Qt-free and network-free; ``remote/audit.py`` runs
``audit.ps1`` and ``ui/health`` shows the result. See docs/health-check.md."""

from .facts import AuditFormatError, HostFacts, VmFacts, parse_audit
from .judge import AuditContext, HostJudgement, count_by_severity, judge_host
from .live import LiveTracker, LiveView
from .report import HostAudit, fails, report_document, report_text
from .rules import CRITICAL, INFO, RULES, RULES_BY_ID, SEVERITIES, WARNING, Problem, Rule
from .thresholds import HealthThresholds, ThresholdError

__all__ = ["AuditFormatError", "HostFacts", "VmFacts", "parse_audit", "AuditContext", "HostJudgement",
           "count_by_severity", "judge_host", "LiveTracker", "LiveView", "HostAudit", "fails",
           "report_document", "report_text", "CRITICAL", "INFO", "RULES", "RULES_BY_ID", "SEVERITIES",
           "WARNING", "Problem", "Rule", "HealthThresholds", "ThresholdError"]
