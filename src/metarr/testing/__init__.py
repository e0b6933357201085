"""Fakes and builders shipped with the package for tests and benchmarks."""
