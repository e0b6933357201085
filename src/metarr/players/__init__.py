"""Media players Metarr keeps in sync (Kodi, Jellyfin, Plex): one package per player,
the shared plumbing in `base` (and `http` for the token REST servers), the plug-ins in
`registry`."""
