"""Talking to a Hyper-V host over WinRM: sessions, shipped PowerShell scripts, deadlines,
error taxonomy, package transfer."""
