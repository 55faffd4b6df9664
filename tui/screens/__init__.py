"""Screens: the main view and the dialogs pushed over it (no widgets here)."""
