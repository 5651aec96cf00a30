"""`serve` and its typer command: key handling, loopback-only no-auth, and the app it runs."""

from __future__ import annotations

import asyncio
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


def test_a_remote_core_decodes_and_local_settings_are_refused_beside_it(captured: dict[str, Any],
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import genaisys.serve.backends
    from genaisys.errors import ConfigError
    from genaisys.serve import serve

    build = genaisys.serve.backends.build_remote_core
    monkeypatch.setattr(genaisys.serve.backends, "build_remote_core",
                        lambda *a, **kw: captured.setdefault("remote", build(*a, **kw)))
    serve(remote_core="http://backend:9000/v1/", remote_model="big-model", remote_api_key="sk-backend",
          no_auth=True, checkpointer=":memory:", max_new_tokens=12)
    assert "spec" not in captured  # no local core was loaded
    remote = captured["remote"]
    assert (remote.base_url, remote.model, remote.max_tokens) == ("http://backend:9000/v1", "big-model", 12)
    assert remote.api_key.get_secret_value() == "sk-backend"
    models = asyncio.run(_get(captured["app"], "/v1/models"))["data"]
    assert models[0]["id"] == "big-model"
    for wrong, what in [({"core_spec": "nano"}, "core"), ({"dtype": "bfloat16"}, "dtype"),
                        ({"constrain_tool_calls": True}, "constrain_tool_calls")]:
        with pytest.raises(ConfigError, match=f"{what} set a local core"):
            serve(remote_core="http://backend:9000/v1", remote_model="m", no_auth=True, **wrong)
    with pytest.raises(ConfigError, match="give remote_core"):
        serve(remote_model="m", no_auth=True)


def test_cli_flags_for_the_shared_backends(captured: dict[str, Any], tmp_path: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from genaisys.serve import serve_app

    monkeypatch.setenv("GENAISYS_REMOTE_API_KEY", "sk-from-env")
    ok = CliRunner().invoke(serve_app, [
        "--no-auth", "--checkpointer", ":memory:", "--remote-core", "http://backend:9000/v1",
        "--remote-model", "big-model", "--memory", str(tmp_path / "memory"), "--memory-embedding", "hashing:32",
        "--memory-collection", "team-notes"])
    assert ok.exit_code == 0, ok.output
    app = captured["app"]
    ingest = asyncio.run(_post(app, "/v1/memory/ingest", {"documents": [{"text": "Biscuit is the cat.",
                                                                         "source": "cats.md"}]}))
    assert ingest["chunks"] == 1
    search = asyncio.run(_post(app, "/v1/memory/search", {"query": "cat", "k": 1}))
    assert search["data"][0]["source"] == "cats.md"
    from genaisys.memory import ChromaMemory

    reopened = ChromaMemory(tmp_path / "memory", collection="team-notes", image_embedding=False)
    assert reopened.count() == 1 and reopened.embedding.dim == 32
    refused = CliRunner().invoke(serve_app, ["--no-auth", "--core", "nano", "--remote-core", "http://b/v1",
                                             "--remote-model", "m"])
    assert refused.exit_code == 2 and "give one or the other" in refused.output
    bad_url = CliRunner().invoke(serve_app, ["--no-auth", "--memory", "http://chroma:8000/some/path"])
    assert bad_url.exit_code == 2 and "http://<host>:<port>" in bad_url.output


def test_the_served_assistant_recalls_from_the_memory(captured: dict[str, Any], tmp_path: Any) -> None:
    from genaisys.serve import serve

    serve("nano", no_auth=True, checkpointer=":memory:", memory=str(tmp_path / "memory"), memory_embedding="hashing:64")
    app = captured["app"]
    asyncio.run(_post(app, "/v1/memory/ingest", {"documents": [
        {"text": "The lighthouse keeper's cat is called Biscuit.", "source": "cats.md"}]}))
    run = asyncio.run(_post(app, "/v1/graphs/assistant/runs", {"input": "What is the lighthouse cat called?",
                                                                "thread_id": "t"}))
    assert run["context"][0]["source"] == "cats.md" and "Biscuit" in run["context"][0]["text"]


async def _get(app: Any, path: str) -> Any:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.get(path)).json()


async def _post(app: Any, path: str, body: Any) -> Any:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post(path, json=body)
        assert answer.status_code == 200, answer.text
        return answer.json()
