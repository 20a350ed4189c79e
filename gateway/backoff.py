"""Reconnect delays: exponential backoff with full jitter.

After a broker restart every hub loses its connection in the same second. Without jitter they would all
retry at the same instants and hit the broker in synchronized waves; with "full jitter" (the delay is drawn
uniformly from [0, min(cap, base * 2**attempt)]) the retries spread evenly over each window, so the load on
the broker is the number of hubs divided by the window, and every failure widens the next window.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

DEFAULT_RECONNECT_BASE_S = 5.0
"""First window. At the design load of 10,000 hubs, spreading the first reconnects over 5 s asks the broker
for ~2,000 TLS handshakes a second, about what one Mosquitto thread completes; hubs refused in that storm
retry over 10 s, 20 s, ... so the storm drains itself."""

DEFAULT_RECONNECT_CAP_S = 300.0
"""Largest window. A hub offline for long retries every 2.5 min on average: readings wait safely in the
outbox, so minutes of extra delay cost nothing, while 10,000 hubs facing a dead broker make only ~70
attempts a second."""

STABLE_CONNECTION_S = 60.0
"""A connection that lived this long resets the attempt counter; one that drops at once (a broker refusing
after CONNACK, a flapping link) keeps widening the window instead of hammering."""


@dataclass
class Backoff:
    """Counts failed attempts and draws the next delay."""

    base_s: float = DEFAULT_RECONNECT_BASE_S
    cap_s: float = DEFAULT_RECONNECT_CAP_S
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def window_s(self) -> float:
        """Upper bound of the next delay (capped before the power grows large)."""
        return min(self.cap_s, self.base_s * 2 ** min(self.attempt, 32))

    def next_delay_s(self) -> float:
        """Draw a delay in [0, window] and widen the window for the attempt after it."""
        delay = self.rng.uniform(0.0, self.window_s())
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0
