"""A local fake npm and PyPI for tests and benchmarks: real protocols, real archives, faults.

``with FakeRegistry() as fake:`` (or the ``fake_registry`` fixture: put
``from tests.fakeregistry.fixtures import fake_registry`` in a ``conftest.py``)
starts it on a random loopback port; ``fake.env()`` gives the ``THREATFEED_*``
variables that point threatfeed at it.

Publishing: ``publish_npm(name, version, files | tarball=bytes)``,
``unpublish_npm(name, version=None)``, ``placeholder_npm``, ``delete_npm``;
``publish_pypi(name, version, files, sdist=, wheel=)``, ``add_pypi_file`` (also
with ``content=bytes, filename=``), ``yank_pypi``, ``remove_pypi_file``,
``remove_pypi_release``, ``remove_pypi_project``, ``pypi_noise``. Each returns or
records :class:`Published` files with their digests.

Faults (by URL path prefix, for the next ``times`` requests): ``fail`` (any
status, optional headers), ``rate_limit`` (429 + ``Retry-After``), ``stall``,
``trickle``, ``truncate``, ``respond`` (exact bytes: hostile XML, bogus JSON);
and ``corrupt(url)`` (digest mismatch), ``shuffle_npm_changes`` /
``shuffle_pypi_changelog`` (duplicates, out of order), ``jump_npm`` /
``jump_pypi`` (a jump in the sequence). ``fake.requests`` logs every request.
"""

from tests.fakeregistry.archives import npm_tarball, sdist, wheel
from tests.fakeregistry.server import FakeRegistry, Published

__all__ = ["FakeRegistry", "Published", "npm_tarball", "sdist", "wheel"]
