"""nng is torn down at exit only once no socket of ours is open (see ``transport/_nng_lifetime.py``).

Run in a fresh interpreter: the socket count is process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = """
    import trio
    from ratchet.transport import open_nng_network, release_nng
    from ratchet.transport._nng_lifetime import open_sockets

    async def network_after_release():
        async with open_nng_network() as network:
            await network.listen("inproc://again")

    async def main():
        seen = []
        async with open_nng_network() as network:
            listener = await network.listen("inproc://lifetime")
            dialer = await network.dial("inproc://lifetime")
            seen.append(open_sockets())
            seen.append(release_nng())  # refused: two sockets are open
            await dialer.aclose()
            await listener.aclose()
        seen.append(open_sockets())
        seen.append(release_nng())  # every socket closed: nng goes
        seen.append(release_nng())  # and only once
        try:  # nng would not start cleanly again: a new socket is refused, not left to hang
            await network_after_release()
        except* RuntimeError as group:
            seen.append(all("torn down at interpreter exit" in str(e) for e in group.exceptions))
        return seen

    print(trio.run(main))
"""


def test_nng_is_released_only_when_no_socket_is_open() -> None:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[2, False, 0, True, False, True]"
