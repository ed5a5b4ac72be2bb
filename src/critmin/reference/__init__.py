"""Curated reference tables that ship with critmin: minerals, the HS map, units, country aliases."""
