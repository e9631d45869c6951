"""HTTP routes of the dining domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["dining"])
