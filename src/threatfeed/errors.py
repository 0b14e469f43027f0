"""One error base class; the CLI and HTTP edges turn it into a message."""


class ThreatfeedError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ThreatfeedError):
    """The environment names a setting that cannot be used."""


class NotFound(ThreatfeedError):
    """A named object does not exist."""


class Conflict(ThreatfeedError):
    """The request contradicts the stored state (a duplicate name, an illegal transition)."""


class Unavailable(ThreatfeedError):
    """A service a request needs, the database above all, cannot be reached for now."""
