"""Filesystem adapter: walking libraries, stat, hashing, atomic writes."""
