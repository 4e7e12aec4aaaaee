"""Reports built from results: adverse-action reason codes (an HTML model report comes later)."""

from .reasons import Reason, reason_codes

__all__ = ["Reason", "reason_codes"]
