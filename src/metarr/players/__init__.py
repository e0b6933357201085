"""Media players Metarr keeps in sync (Kodi, Jellyfin, Plex): one package per player,
the shared plumbing in `base`, the plug-ins in `registry`."""
