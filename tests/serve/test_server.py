"""`serve` and its typer command: key handling, loopback-only no-auth, and the app it runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.serve.conftest import ScriptedChat


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import uvicorn

    import genaisys.core

    seen: dict[str, Any] = {}

    def fake_load_core(spec: str, **kwargs: Any) -> ScriptedChat:
        seen["spec"], seen["core_kwargs"] = spec, kwargs
        return ScriptedChat()

    def fake_run(app: Any, **kwargs: Any) -> None:
        seen["app"], seen["run_kwargs"] = app, kwargs

    monkeypatch.setattr(genaisys.core, "load_core", fake_load_core)
    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.delenv("GENAISYS_API_KEY", raising=False)
    return seen


async def _models(app: Any, headers: dict[str, str] | None = None) -> int:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.get("/v1/models", headers=headers or {})).status_code


def test_serve_makes_a_key_when_none_is_given(captured: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from genaisys.serve import serve

    serve("nano", port=8123, max_new_tokens=7, checkpointer=":memory:")
    key = capsys.readouterr().err.split("): ")[-1].strip()
    assert key.startswith("sk-genaisys-") and len(key) > 30
    assert captured["spec"] == "nano" and captured["core_kwargs"]["max_new_tokens"] == 7
    assert captured["run_kwargs"]["host"] == "127.0.0.1" and captured["run_kwargs"]["port"] == 8123
    assert asyncio.run(_models(captured["app"])) == 401
    assert asyncio.run(_models(captured["app"], {"Authorization": f"Bearer {key}"})) == 200

    async def assistant_turns() -> list[str]:
        transport = httpx.ASGITransport(app=captured["app"], client=("127.0.0.1", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Authorization": f"Bearer {key}"}) as client:
            outs = []
            for text in ("first", "second"):
                run = (await client.post("/v1/graphs/assistant/runs", json={"input": text, "thread_id": "s"})).json()
                outs.append(f"{run['output']}|{len(run['messages'])}")
            return outs

    assert asyncio.run(assistant_turns()) == ["You said: first|2", "You said: second|4"]  # the thread persists


def test_serve_key_from_environment_and_no_auth(captured: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from genaisys.serve import serve

    monkeypatch.setenv("GENAISYS_API_KEY", "sk-from-env")
    serve("nano", checkpointer=":memory:")
    assert asyncio.run(_models(captured["app"], {"Authorization": "Bearer sk-from-env"})) == 200
    serve("nano", host="::1", no_auth=True, checkpointer=":memory:")
    assert asyncio.run(_models(captured["app"])) == 200


def test_typer_command(captured: dict[str, Any]) -> None:
    from genaisys.serve import serve_app

    runner = CliRunner()
    refused = runner.invoke(serve_app, ["--host", "0.0.0.0", "--no-auth"])
    assert refused.exit_code == 2 and "loopback" in refused.output and "app" not in captured
    ok = runner.invoke(serve_app, ["--port", "9001", "--api-key", "sk-x", "--core", "asset:smollm2",
                                      "--checkpointer", ":memory:", "--tool", "builtin:calculator"])
    assert ok.exit_code == 0, ok.output
    assert captured["spec"] == "asset:smollm2" and captured["run_kwargs"]["port"] == 9001


def test_constrained_tool_calls_can_be_turned_on(captured: dict[str, Any]) -> None:
    from genaisys.serve import serve_app

    ok = CliRunner().invoke(serve_app, ["--no-auth", "--checkpointer", ":memory:", "--constrain-tool-calls"])
    assert ok.exit_code == 0, ok.output
    assert captured["core_kwargs"]["constrain_tool_calls"] is True
    CliRunner().invoke(serve_app, ["--no-auth", "--checkpointer", ":memory:"])
    assert captured["core_kwargs"]["constrain_tool_calls"] is False


def test_serve_passes_its_dtype_to_the_core(captured: dict[str, Any]) -> None:
    from genaisys.serve import serve

    serve("nano", port=8124, no_auth=True, checkpointer=":memory:", dtype="bfloat16")
    assert captured["core_kwargs"]["dtype"] == "bfloat16"
