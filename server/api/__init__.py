"""The JSON API under /api/v1 for people (not cameras): every resource the web pages
show, with an OpenAPI description; every call signed in (session cookie or API token)
and passed through the one access gate (server/access)."""
