"""`--provider x --sandbox`: the X API simulator in the background, signed in to through its
test mode (the consent page's button pressed at once), so the X provider runs with no X
account, no developer app and no browser."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import httpx2

from opentweet_mcp.config import Settings
from opentweet_mcp.sandbox.runner import BackgroundServer, tcp_socket
from opentweet_mcp.xapi.auth import TokenFile, XApp, login
from opentweet_mcp.xsim.app import XSimApp, create_x_app

SANDBOX_CLIENT = "opentweet-mcp-sandbox"


class XSimServer(BackgroundServer):
    """The simulator on a free loopback port; `folder` keeps the X provider's files for this
    run (a temporary one, removed at stop, unless a sandbox database names where)."""

    def __init__(self, db: str = ":memory:", host: str = "127.0.0.1") -> None:
        self.app: XSimApp = create_x_app(db)
        sock = tcp_socket(host)
        sock.bind((host, 0))
        super().__init__(self.app, sock)
        self._temporary = db == ":memory:"
        self.folder = (
            Path(tempfile.mkdtemp(prefix="opentweet-x-"))
            if self._temporary
            else Path(f"{Path(db).resolve()}.x-provider")
        )

    def stop(self) -> None:
        super().stop()
        if self._temporary:
            shutil.rmtree(self.folder, ignore_errors=True)


def _press_authorize(url: str) -> None:
    httpx2.get(url + "&approve=1", follow_redirects=True, timeout=10)


def signed_in(settings: Settings, base_url: str, folder: Path) -> Settings:
    """`settings` pointed at the simulator at `base_url`, with a fresh sign-in kept in
    `folder`."""
    app = XApp(
        SANDBOX_CLIENT,
        api_root=base_url,
        authorize_url=f"{base_url}/i/oauth2/authorize",
        redirect_port=0,
    )
    login(app, TokenFile(folder / "x-tokens.json", app), _press_authorize, timeout=20)
    return replace(
        settings,
        x_client_id=app.client_id,
        x_client_secret=None,
        x_api_root=app.api_root,
        x_authorize_url=app.authorize_url,
        x_redirect_port=0,
        x_state=folder,
    )
