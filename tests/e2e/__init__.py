"""End-to-end tests: the packaged application (tests/e2e/test_package.py)."""
