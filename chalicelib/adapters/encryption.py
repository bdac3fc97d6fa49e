"""KMS encryption of the secrets stored for connected accounts, each bound to its account."""

from __future__ import annotations

import base64
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.domain.accounts import SecretUnreadable
from chalicelib.observability import logger

# What KMS answers when a ciphertext is not for this key or this encryption context.
_NOT_THIS_ACCOUNTS = {"InvalidCiphertextException", "IncorrectKeyException"}


class KmsSecretBox:
    def __init__(self, client: Any, key_id: str) -> None:
        self._client = client
        self._key_id = key_id
        # Per container: a warm Lambda asks KMS once per secret. Keyed on the account too, so
        # a ciphertext opened for its own account is never handed out for another one.
        self._opened: dict[tuple[str, str], str] = {}

    def seal(self, secret: str, account_id: str) -> str:
        response = self._client.encrypt(
            KeyId=self._key_id,
            Plaintext=secret.encode(),
            # The account is authenticated with the ciphertext: copied to another account's
            # item, it no longer decrypts.
            EncryptionContext={"account_id": account_id},
        )
        return base64.b64encode(response["CiphertextBlob"]).decode()

    def open(self, sealed: str, account_id: str) -> str:
        key = (account_id, sealed)
        if key not in self._opened:
            try:
                response = self._client.decrypt(
                    CiphertextBlob=base64.b64decode(sealed, validate=True),
                    EncryptionContext={"account_id": account_id},
                )
            except ValueError:  # not even base64: nothing KMS sealed
                raise _unreadable(account_id) from None
            except ClientError as error:
                if error.response["Error"]["Code"] in _NOT_THIS_ACCOUNTS:
                    raise _unreadable(account_id) from None
                raise
            self._opened[key] = response["Plaintext"].decode()
        return self._opened[key]


def _unreadable(account_id: str) -> SecretUnreadable:
    # Copied from another account's item, or tampered with: worth an operator's look.
    logger.warning("a stored secret does not open for its account", extra={"account": account_id})
    return SecretUnreadable(f"a secret stored for {account_id} does not open for it")
