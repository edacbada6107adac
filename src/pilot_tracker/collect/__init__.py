"""Collecting: where units' submissions come from, how they are read and taken in."""
