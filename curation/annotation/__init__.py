"""Annotation in Argilla: connect, the dataset, setup (workspace, accounts), records, suggestions, agreement."""
