"""The monitoring peer: the naive app (platform off) with prometheus-fastapi-instrumentator.

What a FastAPI user would reach for today; benchmarked beside the platform's own monitoring.
"""

from __future__ import annotations

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator

from banrimkwae.app import create_fastapi_app
from banrimkwae.config import load_settings


def create_app() -> FastAPI:
    app = create_fastapi_app(load_settings(), with_platform=False)
    Instrumentator().instrument(app).expose(app)
    return app
