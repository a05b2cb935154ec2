"""The ``ratchet`` command line."""

from __future__ import annotations

from typing import Any

import click

from . import __version__
from ._host.engine_cli import engine_options, settings_from_params


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ratchet")
def main() -> None:
    """Ratchet: a durable task queue and workflow engine on a Trio actor runtime."""


@main.command()
@click.option("--seed", type=int, default=None, help="Seed for the demo's randomness.")
def demo(seed: int | None) -> None:
    """Run a small actor-runtime demo: a supervised pipeline that survives crashes."""
    from ._host.demo import run_demo

    run_demo(seed)


@main.command()
@click.option(
    "--db",
    "database",
    default=None,
    help="Store URL: sqlite:///PATH or postgresql://... "
    "[default: RATCHET_DATABASE_URL, else sqlite ratchet.db in the working directory]",
)
@click.option(
    "--listen",
    default=None,
    help="nng address to serve workers and clients on [default: RATCHET_ENGINE, else tcp://127.0.0.1:7077]",
)
@engine_options
def engine(database: str | None, listen: str | None, **params: Any) -> None:
    """Run the engine until SIGTERM or Ctrl-C.

    Every setting is a flag or a RATCHET_* environment variable (the flag wins).
    DURATION is seconds, or e.g. 30s, 5m, 1h30m, 250ms; SIZE is bytes, or e.g.
    64MiB, 5MB, 512KiB. Payloads are kept inside the database unless --objects-dir
    is given.
    """
    import trio

    from ._host.serve import default_database_url, default_listen_address, serve_engine

    database = database or default_database_url()
    listen = listen or default_listen_address()
    try:
        from ratchet.actors.store import store_from_url

        store_from_url(database)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--db") from None
    if not listen.startswith(("tcp://", "ipc://", "inproc://", "ws://", "tls+tcp://")):
        raise click.BadParameter(
            f"{listen!r} is not an nng address such as tcp://127.0.0.1:7077 or ipc:///tmp/ratchet.sock",
            param_hint="--listen",
        )
    settings = settings_from_params(params)
    import pynng

    try:
        trio.run(serve_engine, database, listen, settings)
    except pynng.NNGException as exc:
        raise click.ClickException(f"cannot listen at {listen}: {exc}") from None
    except KeyboardInterrupt:
        pass


def _seed_range(text: str) -> range:
    first, sep, last = text.partition("..")
    try:
        return range(int(first), int(last) + 1) if sep else range(int(first), int(first) + 1)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a seed range like 0..199", param_hint="--seeds") from None


@main.command()
@click.option("--seed", type=int, default=None, help="Run one seed and print its verdict.")
@click.option("--seeds", default=None, help="Run a swarm of seeds, e.g. 0..199; list the failing ones.")
@click.option(
    "--runs", type=int, default=None, help="Runs triggered per simulation [default: 12, or 40 with --heavy]."
)
@click.option(
    "--heavy", is_flag=True, help="More of every fault, on a busier world (SimConfig.heavy): faults overlap."
)
@click.option("--trace", is_flag=True, help="With --seed: print the whole trace.")
def sim(seed: int | None, seeds: str | None, runs: int | None, heavy: bool, trace: bool) -> None:
    """Simulate a cluster with faults under virtual time and check its invariants."""
    from ratchet.simulation import SimConfig, simulate

    if (seed is None) == (seeds is None):
        raise click.UsageError("give exactly one of --seed N or --seeds A..B")
    if runs is not None and runs < 1:
        raise click.BadParameter("must be at least 1", param_hint="--runs")
    changes = {} if runs is None else {"runs": runs}

    def config(n: int) -> SimConfig:
        return SimConfig.heavy(n, **changes) if heavy else SimConfig(seed=n, **changes)

    if seed is not None:
        result = simulate(config(seed))
        click.echo(result.verdict())
        if trace:
            click.echo(result.trace_text)
        raise SystemExit(0 if result.ok else 1)
    assert seeds is not None
    failing = []
    span = _seed_range(seeds)
    for n in span:
        result = simulate(config(n))
        if not result.ok:
            failing.append(n)
            click.echo(result.verdict().splitlines()[0] + ": " + result.violations[0])
    click.echo(f"{len(span)} seeds, {len(failing)} failing" + (f": {failing}" if failing else ""))
    raise SystemExit(1 if failing else 0)


if __name__ == "__main__":
    main()
