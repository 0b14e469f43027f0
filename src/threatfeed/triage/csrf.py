"""CSRF: the synchronizer token of the session, required in every state-changing form.

``SameSite=Strict`` already keeps the cookie off cross-site requests; the token
is the second, independent lock (older browsers, same-site subdomains).
"""

from __future__ import annotations

import hmac

from threatfeed.triage.sessions import SessionData

FIELD = "csrf"


def valid(session: SessionData | None, submitted: object) -> bool:
    """Whether the form carried the session's token (constant-time comparison)."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())
