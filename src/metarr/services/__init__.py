"""Use cases the API, the web UI and the CLI call."""
