"""threatfeed: a threat feed of malicious open-source packages."""

__version__ = "0.1.0"
