"""Guests domain."""
