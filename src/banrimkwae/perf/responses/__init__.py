"""Response shaping shared by the API and the platform's own endpoints."""

from banrimkwae.perf.responses.links import relative_link

__all__ = ["relative_link"]
