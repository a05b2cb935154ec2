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
@click.option(
    "--http",
    envvar="RATCHET_HTTP",
    show_envvar=True,
    default="127.0.0.1:8080",
    show_default=True,
    metavar="HOST:PORT",
    help="Serve the REST API (OpenAPI at /openapi.json, docs at /docs) here; 'off' serves none.",
)
@engine_options
def engine(database: str | None, listen: str | None, http: str, **params: Any) -> None:
    """Run the engine until SIGTERM or Ctrl-C.

    Every setting is a flag or a RATCHET_* environment variable (the flag wins).
    DURATION is seconds, or e.g. 30s, 5m, 1h30m, 250ms; SIZE is bytes, or e.g.
    64MiB, 5MB, 512KiB. Payloads are kept inside the database unless --objects-dir
    is given.
    """
    from functools import partial

    import trio

    from ._host.serve import ApiBindError, default_database_url, default_listen_address, serve_engine

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
    settings = settings_from_params(params, listen=listen)
    http_bind: str | None = None if http.strip().lower() == "off" else http.strip()
    if http_bind is not None:
        from ratchet.actors.api._server import api_config

        try:
            api_config(http_bind)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--http / RATCHET_HTTP") from None
    from ._host.secrets_files import default_key_path, load_or_create_key

    try:
        load_or_create_key(settings.secret_key_file or default_key_path())
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--secret-key-file / RATCHET_SECRET_KEY_FILE") from None
    import pynng

    try:
        trio.run(partial(serve_engine, database, listen, settings, http=http_bind))
    except pynng.NNGException as exc:
        raise click.ClickException(f"cannot listen at {listen}: {exc}") from None
    except ApiBindError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass


_engine_option = click.option(
    "--engine",
    envvar="RATCHET_ENGINE",
    show_envvar=True,
    default="tcp://127.0.0.1:7077",
    show_default=True,
    help="The engine's nng address.",
)
_token_option = click.option(
    "--token",
    envvar="RATCHET_TOKEN",
    show_envvar=True,
    default=None,
    help="An API token [default: the admin token an engine on this machine wrote for its owner].",
)


def _ask(engine: str, token: str | None, method: str, *args: Any) -> Any:
    """Ask the engine's authority; a refusal or an unreachable engine is a clean CLI error."""
    import trio

    from ._errors import AuthenticationError, PermissionDeniedError
    from ._host.admin import ask_authority
    from ._session import read_local_token

    try:
        return trio.run(ask_authority, engine, token or read_local_token(engine), method, *args)
    except (AuthenticationError, PermissionDeniedError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        # a request the engine refused (bad name, role, lifetime): its message says why
        raise click.ClickException(getattr(exc, "error_message", None) or str(exc)) from None


@main.group()
def tokens() -> None:
    """Make, list and revoke API tokens of your tenant (admin tokens only)."""


@tokens.command("create")
@click.option("--name", required=True, help="What the token is for (shown in listings).")
@click.option(
    "--role",
    type=click.Choice(["viewer", "member", "admin"]),
    default="member",
    show_default=True,
    help="viewer reads; member also triggers, cancels and runs workers; admin also manages tokens.",
)
@click.option(
    "--expires-in", default="90d", show_default=True, help="Lifetime: e.g. 30d, 12h, 3600 (seconds)."
)
@_engine_option
@_token_option
def tokens_create(name: str, role: str, expires_in: str, engine: str, token: str | None) -> None:
    """Make a token and print it (it is shown this once)."""
    from ._host.engine_cli import parse_seconds

    try:
        lifetime = parse_seconds(expires_in)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires-in") from None
    made = _ask(engine, token, "create_token", {"name": name, "role": role, "expires_in": lifetime})
    click.echo(made["token"])


@tokens.command("list")
@_engine_option
@_token_option
def tokens_list(engine: str, token: str | None) -> None:
    """List your tenant's tokens (never the tokens themselves)."""
    for row in _ask(engine, token, "list_tokens"):
        state = "revoked" if row["revoked"] else "active"
        click.echo(f"{row['id']}  {row['role']:<6}  {state:<7}  {row['name']}")


@tokens.command("revoke")
@click.argument("token_id")
@_engine_option
@_token_option
def tokens_revoke(token_id: str, engine: str, token: str | None) -> None:
    """Revoke a token by its id (from 'ratchet tokens list'); it stops working at once."""
    if not _ask(engine, token, "revoke_token", token_id):
        raise click.ClickException(f"your tenant has no token with id {token_id!r}")
    click.echo(f"revoked {token_id}")


@main.group()
def tenants() -> None:
    """Make and list tenants (admins of the engine's first tenant)."""


@tenants.command("create")
@click.argument("name")
@_engine_option
@_token_option
def tenants_create(name: str, engine: str, token: str | None) -> None:
    """Make a tenant; prints an admin token of it (shown this once)."""
    made = _ask(engine, token, "create_tenant", {"name": name})
    click.echo(f"tenant {made['tenant']['id']} created; its first admin token:")
    click.echo(made["admin_token"]["token"])


@tenants.command("list")
@_engine_option
@_token_option
def tenants_list(engine: str, token: str | None) -> None:
    """List the tenants your token may see."""
    for row in _ask(engine, token, "list_tenants"):
        click.echo(row["id"])


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
