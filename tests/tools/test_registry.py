"""The tool registry: known and unknown names, resources, defaults, light import."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genaisys.errors import ConfigError, UnknownNameError
from genaisys.tools import SafeTool, get_tool, list_tools, register_tool, unregister_tool



def test_builtins_are_listed_and_built_safe():
    names = list_tools()
    for name in ("builtin:calculator", "builtin:clock", "builtin:memory_search", "builtin:memory_write"):
        assert name in names
    assert names == sorted(names)
    assert all(n.startswith("builtin:") for n in list_tools("builtin"))
    calc = get_tool("builtin:calculator")
    assert isinstance(calc, SafeTool) and calc.name == "calculator" and calc.timeout_s == 5.0
    assert calc.invoke({"expression": "6 * 7"}) == "42"
    clock = get_tool("builtin:clock")
    assert "UTC offset +00:00" in clock.invoke({"timezone": "UTC"})


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownNameError) as info:
        get_tool("builtin:calculater")
    message = str(info.value)
    assert message.startswith("unknown tool 'builtin:calculater'; known: ")
    assert "builtin:calculator" in message and "builtin:memory_search" in message
    assert isinstance(info.value, KeyError) and info.value.known == list_tools()


def test_register_get_and_unregister_a_user_tool():
    def weather(city: str) -> str:
        """Today's weather in a city."""
        return f"sunny in {city}"

    register_tool("test:weather", lambda: weather, safety={"timeout_s": 2.0})
    try:
        tool = get_tool("test:weather")
        assert tool.timeout_s == 2.0 and tool.invoke({"city": "Oslo"}) == "sunny in Oslo"
        assert get_tool("test:weather", safety={"timeout_s": 9.0}).timeout_s == 9.0
        with pytest.raises(ConfigError, match="already registered"):
            register_tool("test:weather", lambda: weather)
        register_tool("test:weather", "genaisys.tools.calculator:build_calculator_tool", replace=True)
        assert get_tool("test:weather").name == "calculator"  # lazy import path
    finally:
        unregister_tool("test:weather")
    assert "test:weather" not in list_tools()
    with pytest.raises(UnknownNameError):
        unregister_tool("test:weather")


def test_safe_false_builds_the_plain_tool():
    from langchain_core.tools import BaseTool

    from genaisys.tools import safe_tool

    calc = get_tool("builtin:calculator", safe=False)
    assert isinstance(calc, BaseTool) and not isinstance(calc, SafeTool)
    assert calc.name == "calculator" and calc.invoke({"expression": "6 * 7"}) == "42"

    def weather(city: str) -> str:
        """Today's weather in a city."""
        return f"sunny in {city}"

    wrapped = safe_tool(weather, timeout_s=60.0)
    register_tool("test:function", lambda: weather)
    register_tool("test:wrapped", lambda: wrapped)  # what an MCP server's tools look like in the registry
    try:
        plain = get_tool("test:function", safe=False)
        assert not isinstance(plain, SafeTool) and plain.invoke({"city": "Oslo"}) == "sunny in Oslo"
        assert get_tool("test:wrapped", safe=False) is wrapped.inner
        with pytest.raises(ConfigError, match=r"safety settings \['timeout_s'\] need the safety wrapper"):
            get_tool("test:function", safe=False, safety={"timeout_s": 1.0})
    finally:
        unregister_tool("test:function")
        unregister_tool("test:wrapped")


@pytest.mark.parametrize("bad", ["calculator", "Builtin:x", "a:", ":b", "a b:c", "x:../y"])
def test_malformed_names_are_refused(bad):
    with pytest.raises(ConfigError, match="kind:name"):
        register_tool(bad, lambda: None)


def test_factory_must_be_callable_or_a_path():
    with pytest.raises(ConfigError, match="module:attribute"):
        register_tool("test:bad", "not a path")


def test_resources_are_checked_against_the_factory():
    with pytest.raises(ConfigError, match=r"needs memory: get_tool\('builtin:memory_search', memory=...\)"):
        get_tool("builtin:memory_search")
    with pytest.raises(ConfigError, match="does not take memory; it accepts: nothing"):
        get_tool("builtin:calculator", memory=object())
    with pytest.raises(ConfigError, match="search"):
        get_tool("builtin:memory_search", memory=object())


def test_import_stays_light():
    code = (
        "import sys, genaisys.tools as t; t.__doc__; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'langgraph', 'httpx', 'mcp', 'torch', 'chromadb', 'pydantic')]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
