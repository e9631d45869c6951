"""The performance platform: a leaf package that never imports banrimkwae.resort."""
