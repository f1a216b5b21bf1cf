"""Fixtures for browser tests: a live portal on its own database, and Chromium pages."""
