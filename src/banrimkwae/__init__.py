"""Banrimkwae resort-management API with a built-in performance platform."""

__version__ = "0.1.0"
