"""Structured output as JSON for genaisys's chat models: ``with_structured_output(method="json_schema")``.

`ChatCore` decodes a ``response_format`` under a JSON grammar; `RemoteCore` sends it to its server
(OpenAI's ``response_format``). Both build the same runnable here: the model bound to that
``response_format``, then a parser into ``schema`` (a pydantic object, or a dict for a TypedDict or
a JSON schema), with LangChain's ``include_raw`` shape.

Example:
    >>> from langchain_core.language_models import FakeListChatModel
    >>> json_schema_runnable(FakeListChatModel(responses=['{"a": 1}']),
    ...                      {"title": "t", "type": "object", "properties": {"a": {"type": "integer"}}},
    ...                      method="json_schema").invoke("x")
    {'a': 1}
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_core.utils.pydantic import is_basemodel_subclass

from genaisys.errors import ConfigError

__all__ = ["STRUCTURED_METHODS", "json_schema_runnable", "response_format_for"]

STRUCTURED_METHODS = ("function_calling", "json_schema", "json_mode")


def response_format_for(schema: dict[str, Any] | type) -> dict[str, Any]:
    """OpenAI's ``response_format`` demanding JSON that matches ``schema``.

    Example:
        >>> response_format_for({"title": "t", "type": "object"})["json_schema"]["name"]
        't'
    """
    json_schema = convert_to_json_schema(schema)
    return {"type": "json_schema", "json_schema": {"name": str(json_schema.get("title") or "answer"),
                                                   "schema": json_schema, "strict": True}}


def json_schema_runnable(model: BaseChatModel, schema: dict[str, Any] | type, *, method: str,
                         include_raw: bool = False) -> Runnable[LanguageModelInput, Any]:
    """``model`` answering as ``schema`` through a JSON ``response_format`` (``json_schema``/``json_mode``).

    Raises:
        ConfigError: ``method`` is not ``json_schema`` or ``json_mode``.
    """
    if method not in ("json_schema", "json_mode"):
        raise ConfigError(f"method must be one of {', '.join(STRUCTURED_METHODS)}, got {method!r}")
    fmt = response_format_for(schema)
    llm = model.bind(response_format=fmt,
                     ls_structured_output_format={"kwargs": {"method": method}, "schema": fmt["json_schema"]["schema"]})
    parser: Any = (PydanticOutputParser(pydantic_object=schema)
                   if isinstance(schema, type) and is_basemodel_subclass(schema) else JsonOutputParser())
    if not include_raw:
        return llm | parser
    parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser, parsing_error=lambda _: None)
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback], exception_key="parsing_error")
