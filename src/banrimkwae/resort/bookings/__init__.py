"""Bookings domain."""
