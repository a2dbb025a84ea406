"""Catalogue: optimizers, one module per entry."""
