"""Big payloads end to end: time and memory of an engine process and a worker process.

For each size in ``--sizes`` (megabytes) it starts a fresh ``ratchet engine`` on a new
SQLite file (or Postgres database with ``--pg``) and a worker (this script, ``worker``
mode) whose ``mirror`` task returns its input text reversed, so the payload crosses the
wire four times (client -> engine -> worker -> engine -> client) and is stored twice
(the run's input, the task's output). It reports the round trip and, per process, the
resident memory at rest and at its peak (``VmHWM``), and how many payload sizes the peak
stood above rest: a measure of how many copies of a payload a process holds at once.

Run: ``python bench/payload_bench.py [--sizes 1,5,20,60] [--pg postgresql://postgres@127.0.0.1:5432/postgres]``.
Nothing is asserted; the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from scratch_pg import scratch_database  # noqa: E402

from ratchet import Context, Ratchet, Standalone  # noqa: E402


def make_client(engine: str | None = None) -> tuple[Ratchet, Standalone]:
    r = Ratchet(engine=engine)

    @r.task(input_validator=dict, execution_timeout="10m")
    async def mirror(input: dict, ctx: Context) -> dict:
        return {"text": input["text"][::-1]}

    return r, mirror


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def start(argv: list[str], env: dict[str, str], ready: str | None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if ready is not None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if ready in line:
                return proc
        raise RuntimeError(f"{argv} exited before printing {ready!r}")
    return proc


def one_size(megabytes: float, database: str) -> dict[str, float]:
    address = free_address()
    engine_argv = [sys.executable, "-m", "ratchet.cli", "engine", "--db", database, "--listen", address]
    with ExitStack() as stack:
        engine = start(engine_argv, {}, "listening at")
        stack.callback(engine.kill)
        worker = start([sys.executable, __file__, "worker"], {"RATCHET_ENGINE": address}, None)
        stack.callback(worker.kill)
        client, mirror = make_client(address)
        stack.callback(client.close)
        while not client.connection.call("list_workers"):
            time.sleep(0.05)
        mirror.run({"text": "warm"})
        rest = {"engine": memory_kib(engine.pid, "VmRSS"), "worker": memory_kib(worker.pid, "VmRSS")}
        text = "x" * int(megabytes * 1_000_000)
        started = time.perf_counter()
        out = mirror.run({"text": text}, wait_for_result=True)
        elapsed = time.perf_counter() - started
        assert len(out["text"]) == len(text)
        peak = {"engine": memory_kib(engine.pid, "VmHWM"), "worker": memory_kib(worker.pid, "VmHWM")}
    size_kib = megabytes * 1_000_000 / 1024
    result: dict[str, float] = {"seconds": elapsed}
    for name in ("engine", "worker"):
        result[f"{name}_rest_mb"] = rest[name] / 1024
        result[f"{name}_peak_mb"] = peak[name] / 1024
        result[f"{name}_copies"] = (peak[name] - rest[name]) / size_kib
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5,20,60", help="payload sizes in MB, comma-separated")
    parser.add_argument("--pg", default=None, help="admin DSN: bench on a scratch Postgres database")
    args = parser.parse_args()
    print(
        f"{'store':8} {'MB':>5} {'seconds':>8}  {'engine rest/peak MB':>20} {'copies':>6}  "
        f"{'worker rest/peak MB':>20} {'copies':>6}"
    )
    for megabytes in [float(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            if args.pg:
                database, store = stack.enter_context(scratch_database(args.pg)), "postgres"
            else:
                database, store = f"sqlite:///{tmp}/bench.db", "sqlite"
            r = one_size(megabytes, database)
        print(
            f"{store:8} {megabytes:5g} {r['seconds']:8.2f}  "
            f"{r['engine_rest_mb']:9.0f} /{r['engine_peak_mb']:9.0f} {r['engine_copies']:6.1f}  "
            f"{r['worker_rest_mb']:9.0f} /{r['worker_peak_mb']:9.0f} {r['worker_copies']:6.1f}",
            flush=True,
        )


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    make_client()[0].worker("payloads", slots=1).start()
elif __name__ == "__main__":
    main()
