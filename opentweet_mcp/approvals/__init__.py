"""The ways a person approves outside the conversation: the MCP Apps card (`card.py`), the
approvals page (`page.py`) and `opentweet-mcp approvals` (`command.py`), all drawing the same
preview (`approval.html`) from the pending approvals the gate keeps (`guard/approvals.py`)."""
