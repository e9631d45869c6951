"""HTTP routes of the activities domain."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["activities"])
