"""`python -m opentweet_mcp` runs the command line."""

from opentweet_mcp.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
