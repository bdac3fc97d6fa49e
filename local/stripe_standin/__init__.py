"""A local, stateful stand-in for Stripe (API, Connect OAuth, signed webhooks) that the real
`stripe` SDK talks to, for the local stack and for tests."""

from .server import StripeStandin

__all__ = ["StripeStandin"]
