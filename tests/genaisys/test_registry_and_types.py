"""The one registry helper behind every pluggable part, and the typed contracts between the parts."""

from __future__ import annotations

import doctest
import importlib
import threading

import pytest

from genaisys._registry import Registry
from genaisys.errors import ConfigError, UnknownNameError


@pytest.mark.parametrize("module", ["genaisys._registry", "genaisys.types"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_lazy_paths_settings_families_and_errors():
    reg = Registry("widget", {"json": ("json:dumps", {"indent": 1})}, pattern=r"[a-z]+", hint="'lowercase'",
                   settings=True)
    factory, settings = reg.resolve("json")
    assert factory([1], **settings) == "[\n 1\n]"
    reg.register_family(r"n(\d+)", "n{k}", lambda name, x: int(name[1:]) * x)
    assert reg.build("n3", 2) == 6 and reg.names() == ["json", "n{k}"]
    with pytest.raises(UnknownNameError, match="unknown widget 'zz'; known: json, n{k}"):
        reg.build("zz")
    with pytest.raises(ConfigError, match="widget names look like 'lowercase'"):
        reg.register("Bad", print)
    with pytest.raises(ConfigError, match="must be a callable or a 'module:attribute' path"):
        reg.register("bad", "no path")
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("json", print)
    reg.register("json", print, replace=True)
    assert reg["json"] is print and "json" in reg and list(reg) == ["json"] and len(reg) == 1


def test_concurrent_registration_loses_nothing():
    reg = Registry("widget")
    threads = [threading.Thread(target=lambda i=i: [reg.register(f"w{i}-{j}", print) for j in range(50)])
               for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(reg) == 400


def test_every_registry_is_one_registry_and_users_can_extend_each():
    import genaisys.core.connectors as connectors
    import genaisys.core.encoders as encoders
    import genaisys.eval.tasks as tasks
    import genaisys.memory.chroma as chroma
    import genaisys.tools.decoders.registry as decoders
    import genaisys.tools.registry as tools
    import genaisys.tools.textualizers.registry as textualizers

    for registry in (connectors._REGISTRY, encoders.VISION_ENCODERS, tasks._REGISTRY, chroma.EMBEDDINGS,
                     decoders._REGISTRY, tools._REGISTRY, textualizers._REGISTRY):
        assert isinstance(registry, Registry)
    for register in (connectors.register_connector, encoders.register_vision_encoder, tasks.register_task,
                     chroma.register_embedding, decoders.register_decoder, tools.register_tool,
                     textualizers.register_textualizer):
        assert callable(register)


def test_genaisys_parts_fit_the_contracts(tmp_path):
    from genaisys.memory.blobs import BlobStore
    from genaisys.memory.embeddings import HashingEmbedding
    from genaisys.tools.decoders.base import RecordedDecoder
    from genaisys.types import BlobReader, Blobs, Decoder, Embedding

    blobs = BlobStore(tmp_path / "blobs")
    assert isinstance(blobs, Blobs) and isinstance(blobs, BlobReader)
    assert isinstance(HashingEmbedding(), Embedding)
    assert isinstance(RecordedDecoder(lambda p: b"x", kind="image", output_dir=tmp_path), Decoder)
