"""The phases of the pipeline: one module per phase, composed in chain.py."""
