"""Sign-in for the portal: signed session cookies, CSRF tokens, login rate limits, bearer tokens.

* The session is a cookie signed with itsdangerous (``URLSafeTimedSerializer``, HMAC;
  the key from ``COMPENGINE_SECRET`` or made at start): ``{"u": user, "c": csrf, "s": id}``,
  HttpOnly, SameSite=Lax, expiring after :data:`SESSION_SECONDS`. Logout deletes the
  cookie and revokes the session id in this process. Every request reloads the user,
  so a disabled user is out at once.
* CSRF: each session has a random token; every POST made with the cookie carries it
  (hidden field ``csrf`` or header ``X-CSRF-Token``), compared in constant time.
  Requests with a bearer token carry no cookie and need none.
* Login: :data:`MAX_FAILURES` failed attempts per user name within :data:`WINDOW_SECONDS`
  lock that name until the oldest failure ages out (in memory, per server process).
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "compengine_session"
SESSION_SECONDS = 8 * 3600
MAX_FAILURES = 5
WINDOW_SECONDS = 300


@dataclass(frozen=True)
class SessionData:
    user: str
    csrf: str
    sid: str


class Sessions:
    def __init__(self, secret: str | None = None, *, max_age: int = SESSION_SECONDS) -> None:
        key = secret or os.environ.get("COMPENGINE_SECRET") or secrets.token_urlsafe(32)
        self._s = URLSafeTimedSerializer(key, salt="compengine-session")
        self.max_age = max_age
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def issue(self, user: str) -> tuple[str, SessionData]:
        data = SessionData(user, secrets.token_urlsafe(24), secrets.token_urlsafe(12))
        return self._s.dumps({"u": data.user, "c": data.csrf, "s": data.sid}), data

    def read(self, cookie: str | None) -> SessionData | None:
        if not cookie:
            return None
        try:
            raw = self._s.loads(cookie, max_age=self.max_age)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in ("u", "c", "s")):
            return None
        with self._lock:
            if raw["s"] in self._revoked:
                return None
        return SessionData(raw["u"], raw["c"], raw["s"])

    def revoke(self, data: SessionData) -> None:
        with self._lock:
            self._revoked.add(data.sid)


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


class LoginLimiter:
    """At most ``max_failures`` failed logins per user name in ``window`` seconds."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, name: str) -> deque[float]:
        q = self._failures[name]
        now = self.clock()
        while q and now - q[0] >= self.window:
            q.popleft()
        return q

    def blocked(self, name: str) -> float:
        """Seconds until ``name`` may try again (0: now)."""
        with self._lock:
            q = self._trim(name.lower())
            if len(q) < self.max_failures:
                return 0.0
            return max(1.0, self.window - (self.clock() - q[0]))

    def failed(self, name: str) -> None:
        with self._lock:
            self._trim(name.lower()).append(self.clock())

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.lower(), None)
