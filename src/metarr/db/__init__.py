"""Database adapter: tables, engine, repositories and migrations."""
