"""Qt-free, network-free logic: snapshot model and parser, history, freeze detector,
update catalog and compliance, patch plan and journal. Imports neither Qt nor pywinrm
(an import-linter contract checks this in CI)."""
