"""One Lambda cold start, as the runtime does it: import the handler, then invoke it.

    python -I -S bench/lambda_boot.py SPEC.json

Run in a fresh interpreter with no site-packages: sys.path is only the function's code (and
layers) and what the runtime ships (boto3), as in /var/task, /opt/python and /var/runtime.
Prints one JSON line: init and first-invocation milliseconds, a warm invocation, the answer's
status and the files the function loaded from its own code.
"""

import json
import sys
import time


class Context:
    def __init__(self, name: str, timeout_ms: int) -> None:
        self.function_name = name
        self.memory_limit_in_mb = "512"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = "bench"
        self.log_group_name = self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def main() -> None:
    with open(sys.argv[1]) as file:
        spec = json.load(file)
    sys.path[:0] = spec["paths"]
    module_name, handler_name = spec["handler"].rsplit(".", 1)
    start = time.perf_counter()
    module = __import__(module_name)
    handler = getattr(module, handler_name)
    loaded = time.perf_counter()
    answer = handler(spec["event"], Context(spec["function"], 30_000))
    first = time.perf_counter()
    warm_ms = None
    if spec.get("warm_event") is not None:
        before = time.perf_counter()
        handler(spec["warm_event"], Context(spec["function"], 30_000))
        warm_ms = (time.perf_counter() - before) * 1000
    own = spec["paths"][0]
    files = sorted(
        {
            m.__file__[len(own) + 1 :]
            for m in list(sys.modules.values())
            if getattr(m, "__file__", None) and m.__file__.startswith(own)
        }
    )
    status = answer.get("statusCode") if isinstance(answer, dict) else None
    print(
        json.dumps(
            {
                "init_ms": (loaded - start) * 1000,
                "first_ms": (first - loaded) * 1000,
                "warm_ms": warm_ms,
                "status": status,
                "files": files,
            }
        )
    )


main()
