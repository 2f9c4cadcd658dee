"""Tools an LLM may call, declared from typed Python functions.

:func:`tool` turns a sync or async function into a :class:`Tool`: its name, the first
paragraph of its docstring as the description, and a JSON Schema of its parameters from
the signature (``str``, ``int``, ``float``, ``bool``, ``list[...]``, ``dict``,
``Literal[...]``, enums, ``X | None``) with each parameter's description taken from the
docstring (``:param name: ...`` or a Google-style ``Args:`` section)::

    async def get_weather(city: str, unit: Literal["C", "F"] = "C") -> dict:
        '''Current weather in a city.

        :param city: the city's name
        '''

    tool(get_weather).schema()  # {"type": "function", "function": {...}}

:meth:`Tool.run` calls it with the LLM's arguments under a timeout and never raises:
a failure (bad arguments, an exception, the timeout) is an error result the LLM sees.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ProtocolError, clip
from ..serializers.fields import check_json, load_json

__all__ = ["MAX_ARGUMENTS", "PendingCall", "Tool", "ToolResult", "exchange_messages", "run_calls", "tool",
           "tools_from"]


MAX_ARGUMENTS = 64 * 1024
"""Most characters of one call's arguments decoded; longer ones are an error result."""


@dataclass(slots=True)
class ToolResult:
    """What one tool call gave."""

    result: Any = None
    """The function's return value (``None`` when it failed)."""
    error: str | None = None
    """Why it failed, else ``None``."""

    def content(self) -> str:
        """The ``tool`` message's content: the result as text or JSON, or the error."""
        if self.error is not None:
            return json.dumps({"error": self.error})
        if isinstance(self.result, str):
            return self.result
        return json.dumps(self.result, default=str, ensure_ascii=False)


@dataclass(slots=True)
class Tool:
    """A function the LLM may call."""

    name: str
    """The function name the LLM uses."""
    description: str
    """What it does (from the docstring)."""
    parameters: dict[str, Any]
    """JSON Schema of its arguments (an ``object``)."""
    function: Callable[..., Any]
    """The Python function (sync or async)."""

    def schema(self) -> dict[str, Any]:
        """The OpenAI ``tools[]`` entry."""
        spec: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
        if self.description:
            spec["description"] = self.description
        return {"type": "function", "function": spec}

    async def run(self, arguments: dict[str, Any], timeout: float | None = None) -> ToolResult:
        """Call the function with ``arguments``; a sync function runs in a thread.
        Never raises (except cancellation): failures come back as the result's error."""
        try:
            inspect.signature(self.function).bind(**arguments)
        except TypeError as exc:
            return ToolResult(error=f"bad arguments for {self.name}: {clip(str(exc))}")
        try:
            async with asyncio.timeout(timeout):
                if inspect.iscoroutinefunction(self.function):
                    value = await self.function(**arguments)
                else:
                    value = await asyncio.to_thread(self.function, **arguments)
                    if inspect.isawaitable(value):
                        value = await value
        except TimeoutError:
            return ToolResult(error=f"{self.name} timed out after {timeout:g} s")
        except Exception as exc:
            return ToolResult(error=f"{self.name} failed: {type(exc).__name__}: {exc}")
        return ToolResult(value)


def tool(function: Callable[..., Any], *, name: str | None = None,
         description: str | None = None) -> Tool:
    """Declare ``function`` as a tool (see the module docstring)."""
    doc = inspect.getdoc(function) or ""
    summary, params_doc = _parse_doc(doc)
    hints = _hints(function)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for pname, param in inspect.signature(function).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        prop = _schema_of(hints.get(pname, Any))
        if pname in params_doc:
            prop["description"] = params_doc[pname]
        properties[pname] = prop
        if param.default is inspect.Parameter.empty:
            required.append(pname)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return Tool(name or function.__name__, description if description is not None else summary,
                parameters, function)


@dataclass(slots=True)
class PendingCall:
    """One tool call the LLM asked for, its arguments decoded."""

    id: str
    """The call's id (the result answers it)."""
    name: str
    """The tool's name."""
    arguments: str
    """The arguments as the LLM wrote them (a JSON text)."""
    args: dict[str, Any] = field(default_factory=dict)
    """The decoded arguments (empty when they could not be decoded)."""
    problem: str | None = None
    """Why the arguments are unusable, else ``None``."""

    @classmethod
    def decode(cls, id: str, name: str, arguments: str,
               max_length: int = MAX_ARGUMENTS) -> PendingCall:
        """A call with its ``arguments`` decoded, or the problem with them noted (not
        JSON, not an object, over ``max_length`` characters, nested deeper than
        :data:`~wavewire.serializers.fields.MAX_JSON_DEPTH` levels, a string that is not
        valid Unicode): never raises, the problem becomes the call's error result."""
        if len(arguments) > max_length:
            return cls(id, name, arguments[:max_length], {},
                       f"arguments are too large ({len(arguments)} characters, at most"
                       f" {max_length})")
        if not arguments.strip():
            return cls(id, name, arguments)
        try:
            args = load_json(arguments, "tool call", "the argument text")
            check_json(args, arguments, "tool call", "the argument text")
        except ProtocolError as exc:
            return cls(id, name, arguments, {}, str(exc))
        if not isinstance(args, dict):
            return cls(id, name, arguments, {},
                       f"arguments are not a JSON object (got {type(args).__name__})")
        return cls(id, name, arguments, args)


async def run_calls(
    tools: dict[str, Tool],
    calls: Sequence[PendingCall],
    timeout: float | None,
    spawn: Callable[[Coroutine[Any, Any, ToolResult], str], asyncio.Task],
) -> list[ToolResult]:
    """Run ``calls`` concurrently (each in a task from ``spawn``, e.g. a processor's
    ``create_task``), each under ``timeout``; their results, in order. Cancelled, it
    cancels them all."""

    async def one(call: PendingCall) -> ToolResult:
        t = tools.get(call.name)
        if t is None:
            return ToolResult(error=f"unknown tool {clip(repr(call.name))}")
        if call.problem is not None:
            return ToolResult(error=call.problem)
        return await t.run(call.args, timeout)

    tasks = [spawn(one(c), f"tool:{c.name}") for c in calls]
    try:
        if tasks:
            await asyncio.wait(tasks)
    finally:
        for task in tasks:
            task.cancel()
    return [task.result() for task in tasks]


def exchange_messages(calls: Sequence[PendingCall],
                      results: Sequence[ToolResult]) -> list[dict[str, Any]]:
    """The context messages of one tool round: the assistant's ``tool_calls`` message,
    then one ``tool`` message per result."""
    messages: list[dict[str, Any]] = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in calls]}]
    messages += [{"role": "tool", "tool_call_id": c.id, "content": r.content()}
                 for c, r in zip(calls, results, strict=True)]
    return messages


def _hints(function: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; string ones that ``get_type_hints`` cannot resolve (a function
    defined in a local scope) are tried one by one with ``typing``'s names in scope."""
    try:
        return typing.get_type_hints(function)
    except Exception:
        pass
    scope = {**vars(typing), **getattr(function, "__globals__", {})}
    hints: dict[str, Any] = {}
    for pname, annotation in getattr(function, "__annotations__", {}).items():
        try:
            hints[pname] = eval(annotation, scope) if isinstance(annotation, str) else annotation
        except Exception:
            hints[pname] = Any
    return hints


def tools_from(items: typing.Iterable[Tool | Callable[..., Any]]) -> dict[str, Tool]:
    """Tools by name from tools and plain functions; raises ``ValueError`` on a clash."""
    out: dict[str, Tool] = {}
    for item in items:
        t = item if isinstance(item, Tool) else tool(item)
        if t.name in out:
            raise ValueError(f"two tools are named {t.name!r}")
        out[t.name] = t
    return out


_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean",
           dict: "object", list: "array"}


def _schema_of(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _schema_of(rest[0])
        return {"anyOf": [_schema_of(a) for a in rest]}
    if origin is typing.Literal:
        values = list(args)
        kinds = {_SIMPLE.get(type(v)) for v in values}
        out: dict[str, Any] = {"enum": values}
        if len(kinds) == 1 and None not in kinds:
            out["type"] = kinds.pop()
        return out
    if origin in (list, tuple, set, frozenset) or hint in (list, tuple, set, frozenset):
        out = {"type": "array"}
        if args and args[0] is not Ellipsis:
            out["items"] = _schema_of(args[0])
        return out
    if origin is dict or hint is dict:
        return {"type": "object"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [m.value for m in hint]}
    if hint in _SIMPLE:
        return {"type": _SIMPLE[hint]}
    return {}


_SPHINX = re.compile(r"^:param\s+(?:\S+\s+)?(\w+):\s*(.*)$")
_GOOGLE = re.compile(r"^\s+(\w+)(?:\s*\([^)]*\))?:\s*(.*)$")


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    """The docstring's first paragraph and its parameter descriptions."""
    paragraphs = doc.strip().split("\n\n")
    summary = " ".join(paragraphs[0].split()) if paragraphs and paragraphs[0] else ""
    if summary.startswith((":param", "Args:")):
        summary = ""
    params: dict[str, str] = {}
    section = False  # inside a Google-style "Args:" section
    base: int | None = None
    current: str | None = None
    for line in doc.splitlines():
        stripped = line.strip()
        sphinx = _SPHINX.match(stripped)
        if sphinx:
            current, section = sphinx.group(1), False
            params[current] = sphinx.group(2).strip()
        elif stripped in ("Args:", "Arguments:", "Parameters:"):
            section, base, current = True, None, None
        elif section and stripped and not line[0].isspace():
            section, current = False, None
        elif section and stripped:
            indent = len(line) - len(line.lstrip())
            base = indent if base is None else base
            google = _GOOGLE.match(line)
            if indent == base and google:
                current = google.group(1)
                params[current] = google.group(2).strip()
            elif current is not None:
                params[current] = f"{params[current]} {stripped}"
        elif not stripped:
            current = None if not section else current
        elif current is not None and line[0].isspace():
            params[current] = f"{params[current]} {stripped}"
        else:
            current = None
    return summary, params
