"""Packaging: the PyInstaller spec, the Windows installer script and the build helper
(``python installer/build.py``). Not part of the shipped application; see docs/packaging.md."""
