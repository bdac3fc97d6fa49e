"""Serves the Chalice API locally, like `chalice local`, with extra environment on top.

`chalice local` writes the stage's variables over the process environment, so a stack on
other ports (tests) could not point the app at its own stand-ins; this runner applies
`--env KEY=VALUE` after the stage. Run as: python -m local.api_server --port 8000 --env ...
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from chalice.cli.factory import CLIFactory
from chalice.local import ChaliceRequestHandler, CustomLocalChalice, LocalChalice, LocalDevServer

from local.lifetime import run_until_signalled
from ops.stage import PROJECT_DIR


class _RequestHandler(ChaliceRequestHandler):
    """Logs each request without its query string: an OAuth callback's carries a code."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log_message('"%s %s" %s', self.command, path, str(code))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--stage", default="local")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    factory = CLIFactory(str(PROJECT_DIR), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=args.stage)
    app = config.chalice_app  # loading the app is what applies the stage's variables
    # As `chalice local` does: each request thread sees its own `app.current_request`. Shared,
    # a webhook arriving during a page's request would answer the page with its headers.
    CustomLocalChalice.__bases__ = (LocalChalice, app.__class__)
    app.__class__ = CustomLocalChalice
    os.environ.update(dict(item.split("=", 1) for item in args.env))
    server = LocalDevServer(app, config, args.host, args.port, handler_cls=_RequestHandler)
    # A client's idle keep-alive connection holds a request thread; closing the server must
    # not wait for it (an answer in progress is lost with its process, as on Lambda).
    server.server.daemon_threads = True
    server.server.block_on_close = False
    # Served from a thread, so that Ctrl-C (which reaches every process of the stack) stops it
    # through the signal handler: an interrupted serve_forever() would print a traceback.
    serving = threading.Thread(target=server.serve_forever, name="api", daemon=True)

    def stop() -> None:
        server.shutdown()  # waits for serve_forever to return
        server.server.server_close()

    run_until_signalled(serving.start, stop)


if __name__ == "__main__":
    main()
