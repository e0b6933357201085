"""The web UI: server-rendered Jinja2 pages and HTMX fragments, with their static assets."""
