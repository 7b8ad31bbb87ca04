"""Tests of the Python client (run with clients/python/run-tests)."""
