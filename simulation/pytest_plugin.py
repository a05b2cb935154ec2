"""The pytest plugin of :mod:`ratchet.simulation`: the ``ratchet_simulation`` fixture.

Installed with Ratchet (an entry point in the ``pytest11`` group), so any test can ask
for it::

    def test_payments_charge_once(ratchet_simulation):
        ratchet_simulation.run([payments], scenario, faults=chaos(), invariants=[charged_once],
                               setup=provider.reset)

It runs the scenario over 20 seeds (``seeds=`` to choose) and fails the test with the
first failing seed, its violated invariants and the trace's last events.
"""

from __future__ import annotations

import pytest

from ._harness import SimulationRunner


@pytest.fixture
def ratchet_simulation() -> SimulationRunner:
    """Simulate your workflows over many seeds with faults; see :func:`simulate_workflows`."""
    return SimulationRunner()
