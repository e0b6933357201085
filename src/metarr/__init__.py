"""Metarr: self-hosted metadata manager for home media libraries."""

__version__ = "0.1.0"
