"""Helpers shared by several test folders (real servers started for a test)."""
