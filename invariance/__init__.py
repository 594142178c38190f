"""invariance."""
