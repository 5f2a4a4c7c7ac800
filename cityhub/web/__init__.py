"""The hub's HTTP edge: the aiohttp application (health now; the panel and API build on it)."""
