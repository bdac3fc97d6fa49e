"""Stripe Connect OAuth through the SDK: the authorize URL, the code exchange, deauthorization."""

from __future__ import annotations

from urllib.parse import urlsplit

import stripe

from chalicelib.adapters.stripe_api import _translated_errors
from chalicelib.domain.connect import Authorization
from chalicelib.domain.errors import StripeRejected


class StripeConnectOAuth:
    def __init__(self, client: stripe.StripeClient, client_id: str | None) -> None:
        self._client = client
        self._client_id = client_id

    def authorize_url(self, state: str, redirect_uri: str, email: str | None) -> str:
        if not self._client_id:
            raise StripeRejected("the stage has no Stripe client id", code="not_configured")
        params: dict[str, object] = {
            "client_id": self._client_id,
            "response_type": "code",
            "scope": "read_write",
            "state": state,
            "redirect_uri": redirect_uri,
        }
        if email:
            params["stripe_user"] = {"email": email}
        return self._client.oauth.authorize_url(params)  # type: ignore[arg-type]

    def authorize_origin(self) -> str:
        # Built, not fetched: the SDK knows where its connect address points.
        url = self._client.oauth.authorize_url({"client_id": self._client_id or "ca_"})
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"

    def exchange_code(self, code: str) -> Authorization:
        with _translated_errors():
            # Never retried: Stripe revokes the connection when a code is used twice.
            token = self._client.oauth.token(
                {"grant_type": "authorization_code", "code": code}, {"max_network_retries": 0}
            )
        if not token.stripe_user_id:
            raise StripeRejected("Stripe granted no account for the code")
        return Authorization(
            account_id=token.stripe_user_id,
            livemode=bool(token.livemode),
            scope=token.scope or "read_write",
        )

    def deauthorize(self, account_id: str) -> None:
        try:
            with _translated_errors():
                self._client.oauth.deauthorize({"stripe_user_id": account_id})
        except StripeRejected as refused:
            # invalid_client also means a wrong client id: only believe "already revoked"
            # when the platform has indeed lost access to the account.
            if refused.code != "invalid_client" or self._still_reachable(account_id):
                raise

    def _still_reachable(self, account_id: str) -> bool:
        try:
            with _translated_errors():
                self._client.v1.accounts.retrieve(account_id)
        except StripeRejected as refused:
            return refused.status not in (403, 404)
        return True
