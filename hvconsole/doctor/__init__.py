"""``hvconsole doctor``: the read-only check of one host (``checks``, with the WinRM listener
probe in ``listener``) and the diagnostic bundle an admin attaches to a bug report
(``bundle``).

The doctor sits above the patch engine in the layer order (docs/house-rules.md): it checks
the patch scripts' answers with the engine's own parser and asks about its staging folder.
Nothing here imports Qt; the window and the CLI call it off the GUI thread."""
