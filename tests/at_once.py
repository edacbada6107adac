"""Two people acting at once: the first holds its transaction open while the second tries."""

from __future__ import annotations

import threading
from collections.abc import Callable


def while_held(
    hold: Callable[[Callable[[], None]], None], other: Callable[[], None], deadline: float = 10
) -> None:
    """Run ``hold(wait)`` in a thread: it calls ``wait()`` inside its transaction, after its
    change. Then ``other`` runs in a second thread, which must still be waiting half a
    second later (held by the first's lock); then the first goes on to commit, and both end
    within ``deadline`` seconds."""
    held, release = threading.Event(), threading.Event()

    def wait() -> None:
        held.set()
        assert release.wait(deadline)

    first = threading.Thread(target=hold, args=(wait,))
    first.start()
    assert held.wait(deadline)
    second = threading.Thread(target=other)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting for the first to commit
    release.set()
    first.join(deadline)
    second.join(deadline)
    assert not first.is_alive() and not second.is_alive()
