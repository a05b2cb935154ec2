"""The ``ratchet`` command line."""

from __future__ import annotations

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ratchet")
def main() -> None:
    """Ratchet: a durable task queue and workflow engine on a Trio actor runtime."""


@main.command()
@click.option("--seed", type=int, default=None, help="Seed for the demo's randomness.")
def demo(seed: int | None) -> None:
    """Run a small actor-runtime demo: a supervised pipeline that survives crashes."""
    from ._demo import run_demo

    run_demo(seed)


if __name__ == "__main__":
    main()
