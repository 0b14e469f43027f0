"""The fake's archives have the layout the real tools write, so analysis sees real input."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

from tests.fakeregistry import archives


def test_an_npm_tarball_holds_package_json_under_package() -> None:
    data = archives.npm_tarball("@s/p", "1.2.3", {"lib/x.js": "1;"})
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert {"package/package.json", "package/index.js", "package/lib/x.js"} <= set(names)
    assert (manifest["name"], manifest["version"]) == ("@s/p", "1.2.3")
    assert archives.npm_tarball("@s/p", "1.2.3", {"lib/x.js": "1;"}) == data  # reproducible


def test_an_sdist_holds_pkg_info_and_setup_py() -> None:
    data = archives.sdist("My.Pkg", "1.0")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = set(tar.getnames())
        pkg_info = tar.extractfile("my_pkg-1.0/PKG-INFO").read().decode()  # type: ignore[union-attr]
    assert {"my_pkg-1.0/PKG-INFO", "my_pkg-1.0/setup.py"} <= names
    assert "Name: My.Pkg\nVersion: 1.0" in pkg_info
    assert archives.sdist_filename("My.Pkg", "1.0") == "my_pkg-1.0.tar.gz"


def test_a_wheel_holds_its_dist_info_with_a_record_of_every_file() -> None:
    data = archives.wheel("My.Pkg", "1.0", {"my_pkg/extra.py": "X = 2\n"})
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        names = set(wheel.namelist())
        record = wheel.read("my_pkg-1.0.dist-info/RECORD").decode()
    assert {"my_pkg-1.0.dist-info/METADATA", "my_pkg-1.0.dist-info/WHEEL"} <= names
    assert {line.split(",")[0] for line in record.splitlines()} == names
    assert archives.wheel_filename("My.Pkg", "1.0") == "my_pkg-1.0-py3-none-any.whl"
