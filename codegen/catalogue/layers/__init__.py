"""Catalogue: layers, one module per entry."""
