"""A conversation with an LLM: OpenAI-style chat messages, tools and tool choice.

One :class:`LLMContext` per conversation is shared by the user and assistant
aggregators and read by the LLM service. It round-trips through JSON
(:meth:`LLMContext.to_json` / :meth:`LLMContext.from_json`) so a conversation can be
saved and resumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LLMContext"]


@dataclass(slots=True)
class LLMContext:
    """A conversation: OpenAI-style messages and tools, shared by the aggregators."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    """Chat messages (``{"role": ..., "content": ...}``), in the OpenAI chat shape."""
    tools: list[dict[str, Any]] = field(default_factory=list)
    """Tool (function) definitions in the OpenAI format."""
    tool_choice: str | dict[str, Any] | None = None
    """``"auto"``, ``"none"``, ``"required"``, a named function, or ``None`` (the
    provider's default)."""

    def add_message(self, message: dict[str, Any]) -> None:
        """Append one message."""
        self.messages.append(message)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able copy: ``{"messages": [...], "tools": [...], "tool_choice": ...}``."""
        import json  # lazily: frames import this module, and json is not free
        return {
            "messages": json.loads(json.dumps(self.messages)),
            "tools": json.loads(json.dumps(self.tools)),
            "tool_choice": self.tool_choice,
        }

    def to_json(self) -> str:
        """The conversation as a JSON document."""
        import json
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any) -> LLMContext:
        """Rebuild a context from :meth:`to_dict`'s shape; raises ``ValueError`` (with
        what is wrong) on anything else."""
        if not isinstance(data, dict):
            raise ValueError("LLMContext: expected a JSON object")
        messages = data.get("messages", [])
        tools = data.get("tools", [])
        choice = data.get("tool_choice")
        if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
        ):
            raise ValueError("LLMContext: 'messages' must be a list of objects with a 'role'")
        if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
            raise ValueError("LLMContext: 'tools' must be a list of objects")
        if choice is not None and not isinstance(choice, str | dict):
            raise ValueError("LLMContext: 'tool_choice' must be a string or an object")
        return cls(list(messages), list(tools), choice)

    @classmethod
    def from_json(cls, text: str | bytes) -> LLMContext:
        """Rebuild a context saved with :meth:`to_json`."""
        import json
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"LLMContext: not JSON ({exc})") from None
        return cls.from_dict(data)
