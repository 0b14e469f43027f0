from __future__ import annotations

from tests.analysis.builders import npm_tarball, package, run_rule, sdist
from threatfeed.analysis import Engine
from threatfeed.analysis.rules.npm import (
    command_shadowing_rule,
    npm_hooks_rule,
    npm_security_placeholder_rule,
)
from threatfeed.analysis.scoring import rule_points


def test_hooks_rule_lists_install_hook_commands(engine: Engine) -> None:
    archive = npm_tarball(scripts={"postinstall": "node setup.js", "test": "jest"})
    assert run_rule(engine, npm_hooks_rule, archive) == ["node setup.js"]


def test_hooks_rule_ignores_packages_without_install_hooks(engine: Engine) -> None:
    assert run_rule(engine, npm_hooks_rule, npm_tarball(scripts={"test": "jest"})) is None
    assert run_rule(engine, npm_hooks_rule, sdist()) is None


def test_hook_calling_a_network_tool_weighs_more_than_a_build(engine: Engine) -> None:
    build = npm_hooks_rule(package(engine, npm_tarball(scripts={"install": "node-gyp rebuild"})))
    curl = npm_hooks_rule(
        package(engine, npm_tarball(scripts={"preinstall": "curl -s https://x.example.net"}))
    )
    assert build is not None
    assert curl is not None
    assert rule_points(curl) > rule_points(build)


def test_security_placeholder_is_reported(engine: Engine) -> None:
    archive = npm_tarball(name="some-removed-name", version="0.0.1-security")
    assert run_rule(engine, npm_security_placeholder_rule, archive) is True
    assert run_rule(engine, npm_security_placeholder_rule, npm_tarball()) is None


def test_hook_starting_an_executable_weighs_more(engine: Engine) -> None:
    plain = npm_hooks_rule(package(engine, npm_tarball(scripts={"postinstall": "node x.js"})))
    exe = npm_hooks_rule(package(engine, npm_tarball(scripts={"postinstall": "start a.exe"})))
    assert plain is not None
    assert exe is not None
    assert rule_points(exe) > rule_points(plain)


def _hook_points(engine: Engine, files: dict[str, str], command: str) -> float:
    found = npm_hooks_rule(package(engine, npm_tarball(files, scripts={"postinstall": command})))
    assert found is not None
    return rule_points(found)


def test_hook_running_a_missing_or_non_script_file_weighs_more(engine: Engine) -> None:
    code = "console.log('thanks');\n"
    present = _hook_points(engine, {"scripts/thanks.js": code}, "node scripts/thanks.js")
    missing = _hook_points(engine, {"scripts/thanks.js": code}, "node scripts/other.js")
    disguised = _hook_points(engine, {"docs/NOTES.md": code}, "node docs/NOTES.md")
    inline = _hook_points(engine, {}, "node -e \"try{require('./x')}catch(e){}\"")
    assert missing > present
    assert disguised > present
    assert inline == present


def test_hook_asking_for_root_weighs_more(engine: Engine) -> None:
    def points(command: str) -> float:
        found = npm_hooks_rule(package(engine, npm_tarball(scripts={"postinstall": command})))
        assert found is not None
        return rule_points(found)

    assert points("cd native && sudo make install") > points("cd native && make")
    assert points("npm run build") == points("npm run pseudo-build")


def test_install_hook_hidden_in_a_bundled_file_dependency(engine: Engine) -> None:
    """``"dependencies": {"react": "file:./vendor"}`` with ``vendor/package.json`` holding a
    postinstall: npm runs it on install, the top-level manifest shows no hook."""
    nested = '{"name": "vendor", "version": "1.0.0", "scripts": {"postinstall": "./run.sh"}}'
    files = {"vendor/package.json": nested, "vendor/run.sh": "#!/bin/sh\necho hi\n"}
    hidden = npm_tarball(files, manifest={"dependencies": {"react": "file:./vendor"}})
    assert run_rule(engine, npm_hooks_rule, hidden) == ["./run.sh"]
    found = npm_hooks_rule(package(engine, hidden))
    assert found is not None
    assert rule_points(found) >= 7
    registry = npm_tarball(files, manifest={"dependencies": {"react": "^18.0.0"}})
    assert run_rule(engine, npm_hooks_rule, registry) is None


def test_a_bin_named_like_git_or_sudo_shadows_the_command(engine: Engine) -> None:
    wrapper = (
        "#!/usr/bin/env node\nconst { spawnSync } = require('child_process');\n"
        "spawnSync('/usr/bin/git', process.argv.slice(2), { stdio: 'inherit' });\n"
    )
    archive = npm_tarball(
        {"bin/git.js": wrapper, "bin/cli.js": "console.log('hi');\n"},
        manifest={"bin": {"git": "bin/git.js", "left-padder": "bin/cli.js"}},
    )
    evidence = run_rule(engine, command_shadowing_rule, archive)
    assert evidence == [{"command": "git", "file": "bin/git.js"}]
    assert engine.analyze(archive).flagged


def test_a_bin_of_the_package_own_name_or_its_own_commands_is_no_shadow(engine: Engine) -> None:
    own = npm_tarball({"cli.js": "console.log(1);\n"}, name="node", manifest={"bin": "cli.js"})
    tools = npm_tarball(
        {"cli.js": "console.log(1);\n"},
        manifest={"bin": {"left-pad": "cli.js", "lpad": "cli.js", "yarn": "cli.js"}},
    )
    assert run_rule(engine, command_shadowing_rule, own) is None
    assert run_rule(engine, command_shadowing_rule, tools) is None


def test_a_scoped_package_or_a_dotted_bin_name_shadows_all_the_same(engine: Engine) -> None:
    """npm links a scoped package's string ``bin`` under its unscoped name, and strips the
    dots in front of a command's name."""
    scoped = npm_tarball(
        {"cli.js": "console.log(1);\n"}, name="@tidy/git", manifest={"bin": "cli.js"}
    )
    dotted = npm_tarball({"cli.js": "console.log(1);\n"}, manifest={"bin": {".npm": "cli.js"}})
    assert run_rule(engine, command_shadowing_rule, scoped) == [
        {"command": "git", "file": "cli.js"}
    ]
    assert run_rule(engine, command_shadowing_rule, dotted) == [
        {"command": "npm", "file": "cli.js"}
    ]
