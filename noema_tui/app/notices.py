"""Short-lived notices as Textual toasts, at most one of each kind on screen.

Textual stacks every `notify` call as its own toast: pressing F2 five times while a reply ran
stacked five "Mode ..." toasts. A notice replaces the toast of its kind still showing (kind
defaults to the title and text, so an identical notice never stacks either). The old toast is
withdrawn by expiring its `Notification` (timeout 0): Textual drops expired notifications when
it next shows the rack, which the new notice triggers, and one still waiting in the message
queue is dropped when it arrives, so this needs no private call and no `clear_notifications`
(which would also drop an unrelated error still worth reading).

What stays true for a while (the model failed to load, changes not saved, the chat is past
the model's trained turns) is not a toast: the screen keeps it in the transcript or the status
line for as long as it holds.
"""

from __future__ import annotations

import threading

from textual.app import App
from textual.notifications import Notification, Notify, SeverityLevel

# Seconds on screen by severity: long enough to read one line, short enough not to pile up.
# An error says what failed and how to fix it, so it stays longest.
TIMEOUTS: dict[str, float] = {"information": 4.0, "warning": 6.0, "error": 10.0}


class NoticeBoard:
    """The app's toasts, one per kind."""

    def __init__(self, app: App[object]) -> None:
        self.app = app
        self._shown: dict[str, Notification] = {}
        self._lock = threading.Lock()  # Textual allows notify from threads; keep the dict whole

    def show(self, message: str, *, kind: str | None = None, title: str = "",
             severity: SeverityLevel = "information", timeout: float | None = None,
             markup: bool = False) -> None:
        """Show `message` as a toast, replacing the one of the same `kind` if it still shows.
        Noema's own notices are plain text (`markup` False): paths and titles may hold "[".
        """
        notification = Notification(message, title, severity,
                                    TIMEOUTS[severity] if timeout is None else timeout,
                                    markup=markup)
        kind = kind or f"{title}\0{message}"
        with self._lock:
            self._shown = {k: n for k, n in self._shown.items() if not n.has_expired}
            previous = self._shown.get(kind)
            self._shown[kind] = notification
        if previous is not None:
            previous.timeout = 0  # expired: the rack removes its toast on the refresh below
        self.app.post_message(Notify(notification))

    def showing(self, kind: str) -> Notification | None:
        """The notice of `kind` still on screen, if any."""
        with self._lock:
            notification = self._shown.get(kind)
        return notification if notification is not None and not notification.has_expired \
            else None
