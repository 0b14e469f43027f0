"""A local fake npm and PyPI for tests and benchmarks: real protocols, real archives, faults.

``with FakeRegistry() as fake:`` (or the ``fake_registry`` fixture from
:mod:`tests.fakeregistry.fixtures`) starts it on a random loopback port;
``fake.env()`` gives the ``THREATFEED_*`` variables that point threatfeed at it.
"""

from tests.fakeregistry.archives import npm_tarball, sdist, wheel
from tests.fakeregistry.server import FakeRegistry, Published

__all__ = ["FakeRegistry", "Published", "npm_tarball", "sdist", "wheel"]
