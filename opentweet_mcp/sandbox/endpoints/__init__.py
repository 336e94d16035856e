"""The `/api/v1/` endpoints, one module per tool domain; each handler is named after the MCP
tool it serves (`create_post`, `get_best_times`, …), so grepping a tool's name finds both."""
