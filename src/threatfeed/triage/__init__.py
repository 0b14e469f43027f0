"""The review: which flagged versions await a verdict, verdicts and their effect on the feed.

Services (``service``, ``queue``, ``campaigns``, ``details``) work on a session and
are shared by the web UI (``views``) and the CLI (``threatfeed triage``).
"""
