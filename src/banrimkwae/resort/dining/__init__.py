"""Dining domain."""
