"""Local mode: the same handlers and worker on one machine, against moto server."""
