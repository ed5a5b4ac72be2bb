"""Cooperation: the registry of frameworks, memberships, agreements and projects
(:mod:`critmin.cooperation.registry`) and what they change (:mod:`critmin.cooperation.analytics`)."""

from __future__ import annotations

from critmin.cooperation.registry import Registry

__all__ = ["Registry"]
