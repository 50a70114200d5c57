"""The embedded Argilla stack: argilla-server on SQLite with an embedded search engine and a local Redis."""
