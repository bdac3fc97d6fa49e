"""`python -m local.stripe_standin`: runs the stand-in in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import logging

from .server import StripeStandin


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.stripe_standin",
                                     description="A local stand-in for Stripe.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default="sk_test_standin",
                        help="the secret key clients must send")
    parser.add_argument("--client-id", default="ca_standin",
                        help="the platform's Connect client id (ca_...)")
    parser.add_argument("--public-url", default=None,
                        help="where a browser reaches this server (default: http://HOST:PORT)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    standin = StripeStandin(host=args.host, port=args.port, api_key=args.api_key,
                            client_id=args.client_id, public_url=args.public_url)
    with contextlib.suppress(KeyboardInterrupt):
        standin.serve_forever()


if __name__ == "__main__":
    main()
