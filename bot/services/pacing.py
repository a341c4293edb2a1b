"""How often the scheduled looks run: every interval, or less often while webhooks bring the news.

Webhooks count as flowing when one was verified recently and the last look found nothing they had not
already told. A look that finds news means a webhook went missing: the looks return to full speed at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# While webhooks flow, one look in this many runs (10 s → a minute at the default interval).
SLOWER_BY = 6
# Webhooks arrive only when something changes; this long after the last one they still count as flowing.
FLOWING_FOR_SECONDS = 600.0


@dataclass
class LookPace:
    clock: Callable[[], float] = time.monotonic
    _last_webhook: float | None = None
    _news_missed: bool = False
    _skipped: dict[str, int] = field(default_factory=dict)

    def webhook_arrived(self) -> None:
        self._last_webhook = self.clock()

    @property
    def webhooks_flowing(self) -> bool:
        recent = self._last_webhook is not None and self.clock() - self._last_webhook < FLOWING_FOR_SECONDS
        return recent and not self._news_missed

    def due(self, look: str) -> bool:
        """Whether this run of ``look`` should look; False skips it."""
        if not self.webhooks_flowing:
            self._skipped[look] = 0
            return True
        skipped = self._skipped.get(look, 0) + 1
        if skipped >= SLOWER_BY:
            self._skipped[look] = 0
            return True
        self._skipped[look] = skipped
        return False

    def looked(self, found_news: bool) -> None:
        self._news_missed = found_news
