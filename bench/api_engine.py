"""An engine process for ``api_bench.py``: the nng gateway and the REST API, one Trio loop.

Assembled as ``ratchet engine`` assembles its process (see ``ratchet/_host/serve.py``),
with :func:`ratchet.actors.api.serve_api` beside it in the same loop, as the API server
runs in production. It prints three lines the benchmark waits for::

    token <an admin API token of the default tenant>
    http <the REST API's URL>
    listening <the nng address>

and runs until SIGTERM or SIGINT.

Run: ``python bench/api_engine.py --db postgresql://... --listen tcp://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import signal

import trio

from ratchet.actors import EngineOptions, open_engine
from ratchet.actors.api import EngineBackend, create_app, serve_api
from ratchet.actors.store import open_store
from ratchet.runtime import open_runtime
from ratchet.transport import open_actor_node, open_nng_network


async def serve(database: str, listen: str, http: str, pool: int | None) -> None:
    """Serve an engine on ``database`` at ``listen`` (nng) and ``http`` (REST) until a signal;
    ``pool``: the most connections the Postgres store opens (None: its default)."""
    options = {} if pool is None else {"max_size": pool}
    async with open_runtime() as system, open_store(database, **options) as store:
        runtime = system.runtime
        async with open_nng_network(clock=runtime.clock, random=runtime.random) as network:
            endpoint = await network.listen(listen, name="engine")
            async with (
                open_actor_node(system, endpoint) as node,
                open_engine(system, store, EngineOptions(), node=node) as engine,
                trio.open_nursery() as nursery,
            ):
                token = await engine.issue_token("api bench")
                (url,) = await nursery.start(serve_api, create_app(EngineBackend.of(engine)), http)
                print(f"token {token}", flush=True)
                print(f"http {url}", flush=True)
                print(f"listening {listen}", flush=True)
                with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for _ in signals:
                        break
                nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the store's URL")
    parser.add_argument("--listen", required=True, help="the nng address, tcp://host:port")
    parser.add_argument("--http", default="127.0.0.1:0", help="host:port of the REST API (0: any port)")
    parser.add_argument(
        "--pool", type=int, default=None, help="most Postgres connections (default: the store's)"
    )
    args = parser.parse_args()
    trio.run(serve, args.db, args.listen, args.http, args.pool)


if __name__ == "__main__":
    main()
