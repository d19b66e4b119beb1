"""The simulated host's side of the shipped PowerShell scripts: the fake powershell.exe
(`host_agent`), which recognises each script by its exact body, and one handler module per
script family answering as a real host would, from the model below."""
