"""python -m ops: the operator commands (see ops/cli.py)."""

from ops.cli import cli

if __name__ == "__main__":
    cli(prog_name="python -m ops")
