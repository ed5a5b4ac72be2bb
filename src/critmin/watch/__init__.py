"""Watchlists and early warning: tell analysts when their exposure changes.

- :mod:`critmin.watch.rules`: what a rule watches (indicators, events) and when it fires;
- :mod:`critmin.watch.indicators`: every watched indicator, computed once per evaluation from
  critmin's metric functions, with the data it came from;
- :mod:`critmin.watch.evaluate`: evaluation on an atlas build, a registry change or on demand;
  alerts stored (deduplicated) with their deliveries before anything is sent;
- :mod:`critmin.watch.delivery`: e-mail (SMTP), signed webhooks (HMAC), the Atom feed;
  at-least-once delivery with retries;
- :mod:`critmin.watch.watchlists`: a user's rules, inbox, channels and feed token;
- :mod:`critmin.watch.diff`: what changed between two atlases or two releases.
"""

from __future__ import annotations

from critmin.watch.rules import EVENTS, INDICATORS, RuleSpec

__all__ = ["EVENTS", "INDICATORS", "RuleSpec"]
