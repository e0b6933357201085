"""The core: plain-Python entities, value objects, pure rules and ports."""
