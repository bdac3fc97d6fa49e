"""The environment a Chalice stage gives its Lambdas, read from .chalice/config.json."""

from __future__ import annotations

import json
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def stage_environment(stage: str, function: str | None = None) -> dict[str, str]:
    """Top-level, then stage, then per-function variables, as Chalice layers them."""
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    stage_config = config["stages"][stage]
    env = dict(config.get("environment_variables", {}))
    env.update(stage_config.get("environment_variables", {}))
    if function:
        for level in (config, stage_config):
            per_function = level.get("lambda_functions", {}).get(function, {})
            env.update(per_function.get("environment_variables", {}))
    return env
