"""Run a test's work on several threads at once and fail the test if any thread failed or hung.

(An assertion raised in a thread is lost unless collected: this collects it.)"""

from __future__ import annotations

import threading


def run_in_threads(work, count: int, timeout: float = 240) -> None:
    """Call work(i) for i in range(count), each on its own thread, all at once."""
    errors = []

    def guarded(index):
        try:
            work(index)
        except BaseException as error:  # noqa: BLE001 - re-raised below
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung (deadlock?)"
    if errors:
        raise errors[0]
