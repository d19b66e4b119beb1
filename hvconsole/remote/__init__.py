"""Talking to a Hyper-V host over WinRM: sessions, shipped PowerShell scripts, deadlines,
error taxonomy, package transfer."""

from . import deferred_imports

# Before anything here imports pywinrm: its NTLM and Kerberos libraries load on first use.
deferred_imports.install()
