"""The MCP Bundle for Claude Desktop (bundle/, scripts/build_bundle.py, bundle/README.md).

The manifest lists exactly the tools the server serves and wires every setting to a variable the
server reads. The built `.mcpb`, unzipped, starts the server the way Claude Desktop does: the
command, arguments and environment come from `getMcpConfigForManifest`, the function of the
mcpb package that Claude Desktop uses, applied to the bundle's manifest, the unpacked folder and
the user's settings; a real MCP client session over stdio then lists the tools and calls one,
against the sandbox (OPENTWEET_BASE_URL, as a host's environment could set it; the manifest
starts no sandbox).

Building needs the mcpb CLI (`bash .ci/bundle` installs it in .ci/.node/mcpb) and the manifest's
command needs uv; without them the bundle tests are skipped loudly, and with
OPENTWEET_REQUIRE_BUNDLE=1 (CI) they fail."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client

from opentweet_mcp.config import TOOLSET_NAMES, FlagValues, Settings, load_settings
from opentweet_mcp.options import OPTIONS
from tests.harness import data, text

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "bundle" / "manifest.json"
API_KEY = "pro_bundle_user"

# Claude Desktop's own step from manifest to server: mcp_config with ${__dirname},
# ${user_config.*} (defaults, then the user's values; booleans as "true"/"false") substituted,
# or null while a required setting is missing
HOST_CONFIG = """
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, sep } from "node:path";
import { pathToFileURL } from "node:url";
const [library, manifestPath, extensionPath, userConfig] = process.argv.slice(1);
const { getMcpConfigForManifest } = await import(pathToFileURL(library).href);
const home = homedir();
const config = await getMcpConfigForManifest({
  manifest: JSON.parse(readFileSync(manifestPath, "utf8")),
  extensionPath,
  systemDirs: {
    HOME: home,
    DESKTOP: join(home, "Desktop"),
    DOCUMENTS: join(home, "Documents"),
    DOWNLOADS: join(home, "Downloads"),
  },
  userConfig: JSON.parse(userConfig),
  pathSeparator: sep,
});
process.stdout.write(JSON.stringify(config ?? null));
"""


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_bundle", ROOT / "scripts/build_bundle.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


build_bundle = load_build_script()


def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(MANIFEST.read_text())
    return loaded


def unavailable(what: str, label: str) -> NoReturn:
    if os.environ.get("OPENTWEET_REQUIRE_BUNDLE"):
        pytest.fail(f"{what} is required (CI installs it with .ci/bundle) but is not installed")
    pytest.skip(f"{label} NOT INSTALLED: the bundle was not built or started (bash .ci/bundle)")


# --- the manifest, without the CLI --------------------------------------------------------------


def test_manifest_is_generated_from_the_project() -> None:
    """The committed manifest's generated fields are current: what `build_bundle.py --check`
    enforces, checked here too so a stale manifest fails even where the CLI is missing."""
    m = manifest()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert m["version"] == project["version"]
    assert m["compatibility"]["runtimes"]["python"] == project["requires-python"]
    served = build_bundle.served_tools()
    assert m["tools"] == [
        {"name": t["name"], "description": " ".join(t["description"].split())} for t in served
    ], "bundle/manifest.json is stale: run `python scripts/build_bundle.py`"
    assert len(m["tools"]) == 28  # the approval card's two app-only buttons are not listed


def test_every_setting_reaches_a_variable_the_server_reads() -> None:
    m = manifest()
    server = m["server"]
    config = server["mcp_config"]
    assert server["type"] == "uv" and (ROOT / server["entry_point"]).is_file()
    assert "--sandbox" not in config["args"]
    used = re.findall(r"\$\{user_config\.(\w+)\}", json.dumps(config))
    assert sorted(used) == sorted(m["user_config"]), "a setting declared but unused, or undeclared"
    options = m["user_config"]
    assert options["api_key"]["sensitive"] is True and options["api_key"]["required"] is True
    for name, option in options.items():  # an unset optional setting would reach the server
        assert name == "api_key" or "default" in option, f"{name} needs a default"  # as ${...}
    known = {option.env for option in OPTIONS}
    assert set(config["env"]) <= known, "the server reads no such variable"

    def settings(values: dict[str, Any]) -> Settings:
        """What the server makes of the environment the host gives it (booleans as the host
        writes them: "true"/"false")."""
        strings = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}
        env = {
            variable: re.sub(r"\$\{user_config\.(\w+)\}", lambda m: strings[m[1]], value)
            for variable, value in config["env"].items()
        }
        return load_settings(FlagValues(), env)

    defaults = settings(
        {"api_key": "k"} | {k: o["default"] for k, o in options.items() if k != "api_key"}
    )
    assert (defaults.api_key, defaults.toolsets, defaults.read_only) == ("k", TOOLSET_NAMES, False)
    assert (defaults.confirm, defaults.long_posts) == ("auto", False)
    chosen = settings(
        {
            "api_key": "k2",
            "toolsets": "posts, compose",
            "read_only": True,
            "confirm": "token",
            "long_posts": True,
        }
    )
    assert (chosen.api_key, chosen.toolsets, chosen.read_only) == ("k2", ("posts", "compose"), True)
    assert (chosen.confirm, chosen.long_posts) == ("token", True)


# --- the built bundle ---------------------------------------------------------------------------


@dataclass
class Bundle:
    folder: Path
    manifest: dict[str, Any]
    cli: Any  # build_bundle.Cli
    uv: str

    def host_config(self, user_config: dict[str, Any]) -> dict[str, Any] | None:
        out = subprocess.run(
            [
                str(self.cli.node),
                "--input-type=module",
                "-e",
                HOST_CONFIG,
                str(self.cli.library),
                str(self.folder / "manifest.json"),
                str(self.folder),
                json.dumps(user_config),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        config: dict[str, Any] | None = json.loads(out.stdout)
        return config


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    cli = build_bundle.find_cli()
    if cli is None:
        unavailable("the mcpb CLI (@anthropic-ai/mcpb)", "MCPB CLI")
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    uv = shutil.which("uv", path=search)
    if uv is None:
        unavailable("uv", "UV")
    tmp = tmp_path_factory.mktemp("bundle")
    out = tmp / "opentweet-mcp.mcpb"
    built = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_bundle.py"), "--check", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    folder = tmp / "unpacked"
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        archive.extractall(folder)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    bundled = json.loads((folder / "manifest.json").read_text())
    assert bundled == manifest()
    yield Bundle(folder, bundled, cli, uv)


def test_required_key_is_asked_for(bundle: Bundle) -> None:
    """Without the API key the host starts nothing (it asks for the key at install)."""
    assert bundle.host_config({}) is None


@pytest.mark.parametrize("read_only", [False, True], ids=["defaults", "read-only"])
async def test_bundle_starts_as_the_manifest_says(
    bundle: Bundle, sandbox: Any, tmp_path: Path, read_only: bool
) -> None:
    settings: dict[str, Any] = {"api_key": API_KEY}
    if read_only:
        settings["read_only"] = True
    config = bundle.host_config(settings)
    assert config is not None
    assert "${" not in json.dumps(config), config
    assert config["env"]["OPENTWEET_API_KEY"] == API_KEY
    assert config["env"]["OPENTWEET_MCP_READ_ONLY"] == ("true" if read_only else "false")
    assert config["env"]["OPENTWEET_MCP_TOOLSETS"] == "all"
    assert str(bundle.folder) in config["args"]

    command = config["command"]
    if command == "uv":
        command = bundle.uv  # the host runs its own uv; here the one .ci/bundle installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENTWEET_")}
    env.pop("VIRTUAL_ENV", None)  # the bundle's project gets its own environment
    env.update(
        config["env"],
        OPENTWEET_BASE_URL=sandbox.base_url,
        UV_PYTHON=sys.executable,  # an interpreter that is here, never a download
        UV_PYTHON_DOWNLOADS="never",
    )
    params = StdioServerParameters(command=command, args=config["args"], env=env)
    errors = tmp_path / "stderr.log"
    try:
        with errors.open("w") as errlog, anyio.fail_after(120):
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                tools = (await client.list_tools()).tools
                me = await client.call_tool("get_account", {})
    except BaseException:
        print(errors.read_text(), file=sys.stderr)
        raise

    served = [
        {"name": t.name, "description": " ".join((t.description or "").split())} for t in tools
    ]
    if read_only:
        expected = {t["name"] for t in build_bundle.served_tools(read_only=True)}
        assert {t["name"] for t in served} == expected
        assert expected < {t["name"] for t in bundle.manifest["tools"]}
        assert "publish_post" not in expected and "get_post" in expected
    else:
        assert served == bundle.manifest["tools"]  # this client draws no MCP Apps: no card buttons
        assert len(served) == 28
    assert data(me)["authenticated"] is True, text(me)
