"""The guided patch wizard (issue 9): ``PatchSession`` is the window's seam; the wizard,
its pages (one module each), the run controller and the journal watch live beside it."""
