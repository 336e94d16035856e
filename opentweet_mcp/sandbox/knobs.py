"""Knobs: the named settings a simulator's tests turn (delays, failures, limits)."""

from __future__ import annotations

from typing import Any, ClassVar


class Knobs:
    """A simulator's knobs: `DEFAULTS` names them all; `config` holds those turned."""

    DEFAULTS: ClassVar[dict[str, Any]] = {}
    config: dict[str, Any]

    def knob(self, name: str) -> Any:
        return self.config.get(name, self.DEFAULTS[name])

    def configure(self, **knobs: Any) -> dict[str, Any]:
        """Set knobs; an unknown name is a ValueError (a typo must not pass silently)."""
        unknown = set(knobs) - set(self.DEFAULTS)
        if unknown:
            raise ValueError(f"unknown knobs: {sorted(unknown)}; known: {sorted(self.DEFAULTS)}")
        self.config.update(knobs)
        return {**self.DEFAULTS, **self.config}
