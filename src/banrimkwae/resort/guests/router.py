"""HTTP routes of the guests domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["guests"])
