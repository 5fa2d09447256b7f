"""Unit tests of the pure-Python helpers (no Odoo): see ../../README.md."""
