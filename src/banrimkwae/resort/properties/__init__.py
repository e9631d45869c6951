"""Properties domain."""
