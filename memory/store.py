"""`ChromaStore`: genaisys memory as a LangGraph `BaseStore`, so LangGraph's long-term-memory API works on it.

Items live in their own collection (``<memory collection>-store``) of the same Chroma store as a
`ChromaMemory` — embedded or on a ``chroma run`` server — and are embedded with the memory's
registered text embedding. Each item is one Chroma record:

- id: SHA-256 of ``[namespace, key]``; ``put`` on the same namespace/key replaces the item and
  keeps its ``created_at``;
- document: the text of the indexed fields (``fields``, LangGraph's JSON-path syntax, default
  ``["$"]`` = the whole value as JSON), which is what semantic ``search(query=...)`` matches;
- metadata: the namespace (whole, depth, and one ``ns<i>`` label per level for prefix filters),
  key, JSON value, timestamps and whether the item is indexed.

Semantic search covers indexed items; ``search`` without a query lists items newest first.
Value filters (``{"status": "done"}``, ``{"n": {"$gt": 2}}``) are applied to the decoded values.
TTL is not supported (``supports_ttl = False``). Async methods run the sync ones in a thread.

Example:
    >>> import tempfile
    >>> from genaisys.memory import ChromaMemory
    >>> from genaisys.memory.embeddings import HashingEmbedding
    >>> from genaisys.memory.store import ChromaStore
    >>> store = ChromaStore(ChromaMemory(tempfile.mkdtemp(), embedding=HashingEmbedding(), image_embedding=False))
    >>> store.put(("users", "ada"), "likes", {"text": "Ada likes tea and mathematics"})
    >>> store.get(("users", "ada"), "likes").value["text"]
    'Ada likes tea and mathematics'
    >>> store.search(("users",), query="what does ada like to drink")[0].key
    'likes'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)
from langgraph.store.base.embed import get_text_at_path

from genaisys.errors import MemoryStoreError
from genaisys.memory.chroma import ChromaMemory

__all__ = ["ChromaStore"]

_OPERATORS = {
    "$eq": lambda a, b: a == b,
    "$ne": lambda a, b: a != b,
    "$gt": lambda a, b: a is not None and a > b,
    "$gte": lambda a, b: a is not None and a >= b,
    "$lt": lambda a, b: a is not None and a < b,
    "$lte": lambda a, b: a is not None and a <= b,
}


def _matches(value: Any, condition: Any) -> bool:
    """LangGraph filter semantics: exact match, nested dicts, or ``{"$op": operand}`` comparisons."""
    if isinstance(condition, Mapping):
        if any(str(k).startswith("$") for k in condition):
            try:
                return all(_OPERATORS[op](value, operand) for op, operand in condition.items())
            except KeyError as exc:
                known = ", ".join(_OPERATORS)
                raise MemoryStoreError(f"unknown filter operator {exc.args[0]!r}; use {known}") from None
            except TypeError:
                return False  # comparing, say, a string with a number: no match
        return isinstance(value, Mapping) and all(_matches(value.get(k), v) for k, v in condition.items())
    return value == condition


def _item_id(namespace: tuple[str, ...], key: str) -> str:
    return hashlib.sha256(json.dumps([list(namespace), key]).encode()).hexdigest()


def _namespace_where(prefix: tuple[str, ...], *extra: dict[str, Any]) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = [*extra]
    if prefix:
        clauses.append({"ns_depth": {"$gte": len(prefix)}})
        clauses += [{f"ns{i}": label} for i, label in enumerate(prefix)]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    part = namespace[:len(path)] if condition.match_type == "prefix" else namespace[len(namespace) - len(path):]
    if condition.match_type not in ("prefix", "suffix"):
        raise MemoryStoreError(f"unknown namespace match type {condition.match_type!r}; use 'prefix' or 'suffix'")
    return all(p == "*" or p == n for p, n in zip(path, part))


class ChromaStore(BaseStore):
    """A LangGraph `BaseStore` on genaisys's Chroma memory.

    Args:
        memory: the `ChromaMemory` whose Chroma client and text embedding to use; default: a new
            embedded one at ``./.genaisys/memory``.
        collection: the items' collection; default ``<memory collection>-store``.
        fields: JSON paths of the value fields to embed by default (``["$"]``: the whole value);
            ``put(..., index=[...])`` overrides per item, ``index=False`` stores without indexing.

    Example:
        >>> from langgraph.graph import StateGraph  # doctest: +SKIP
        >>> graph = builder.compile(store=ChromaStore(ChromaMemory("./mem")))  # doctest: +SKIP
    """

    supports_ttl = False

    def __init__(self, memory: ChromaMemory | None = None, *, collection: str | None = None,
                 fields: Sequence[str] = ("$",)) -> None:
        self.memory = memory if memory is not None else ChromaMemory(image_embedding=False)
        self.collection_name = collection or f"{self.memory.collection_name}-store"
        self.fields = list(fields)
        embedding = self.memory._resolve_embedding(self.collection_name, self.memory.embedding,
                                                   type(self.memory.embedding))
        self.collection = self.memory._open(self.collection_name, embedding)

    def __repr__(self) -> str:
        return f"ChromaStore({self.memory!r}, collection={self.collection_name!r})"

    # ------------------------------------------------------------ BaseStore

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run the operations in order (consecutive puts go to Chroma as one write)."""
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, PutOp):
                j = i
                while j < len(ops) and isinstance(ops[j], PutOp):
                    j += 1
                self._put(ops[i:j])  # type: ignore[arg-type]
                i = j
                continue
            if isinstance(op, GetOp):
                results[i] = self._get(op)
            elif isinstance(op, SearchOp):
                results[i] = self._search(op)
            elif isinstance(op, ListNamespacesOp):
                results[i] = self._list_namespaces(op)
            else:
                raise MemoryStoreError(f"unknown store operation {type(op).__name__}")
            i += 1
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """`batch` in a worker thread (the Chroma client is synchronous)."""
        return await asyncio.get_running_loop().run_in_executor(None, self.batch, list(ops))

    # ------------------------------------------------------------ operations

    def _put(self, ops: Sequence[PutOp]) -> None:
        from chromadb.errors import ChromaError

        last: dict[str, PutOp] = {}
        for op in ops:  # several puts of one item in a batch: the last one wins
            last[_item_id(tuple(op.namespace), op.key)] = op
        doomed = [i for i, op in last.items() if op.value is None]
        writes = {i: op for i, op in last.items() if op.value is not None}
        now = datetime.now(timezone.utc).isoformat()
        try:
            if doomed:
                self.collection.delete(ids=doomed)
            if not writes:
                return
            found = self.collection.get(ids=list(writes), include=["metadatas"])
            created = {i: (m or {}).get("created_at", now) for i, m in zip(found["ids"], found["metadatas"])}
            ids, documents, metadatas = [], [], []
            for item_id, op in writes.items():
                namespace = tuple(op.namespace)
                try:
                    value_json = json.dumps(op.value, ensure_ascii=False, sort_keys=True)
                except (TypeError, ValueError) as exc:
                    raise MemoryStoreError(f"item {namespace}/{op.key}: the value must be JSON-serialisable "
                                           f"({exc})") from exc
                fields = self.fields if op.index is None else (op.index or [])
                texts = [t for path in fields for t in get_text_at_path(op.value, path)]
                indexed = bool(texts) and op.index is not False
                ids.append(item_id)
                documents.append("\n".join(texts) if indexed else op.key)
                metadatas.append({"ns": json.dumps(list(namespace)), "ns_depth": len(namespace),
                                  **{f"ns{d}": label for d, label in enumerate(namespace)},
                                  "key": op.key, "value": value_json, "indexed": indexed,
                                  "created_at": created.get(item_id, now), "updated_at": now})
            for start in range(0, len(ids), self.memory.batch_size):
                end = start + self.memory.batch_size
                self.collection.upsert(ids=ids[start:end], documents=documents[start:end],
                                       metadatas=metadatas[start:end])
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"store write failed: {exc}") from exc

    @staticmethod
    def _item(meta: Mapping[str, Any], score: float | None = None, searched: bool = False) -> Item:
        fields = {"namespace": tuple(json.loads(meta["ns"])), "key": meta["key"], "value": json.loads(meta["value"]),
                  "created_at": meta["created_at"], "updated_at": meta["updated_at"]}
        return SearchItem(**fields, score=score) if searched else Item(**fields)

    def _get(self, op: GetOp) -> Item | None:
        found = self.collection.get(ids=[_item_id(tuple(op.namespace), op.key)], include=["metadatas"])
        return self._item(found["metadatas"][0]) if found["ids"] else None

    def _search(self, op: SearchOp) -> list[SearchItem]:
        from chromadb.errors import ChromaError

        prefix = tuple(op.namespace_prefix)
        limit, offset = max(op.limit, 0), max(op.offset, 0)

        def keep(meta: Mapping[str, Any]) -> bool:
            if not op.filter:
                return True
            value = json.loads(meta["value"])
            return all(_matches(value.get(k), v) for k, v in op.filter.items())

        try:
            if op.query:
                where = _namespace_where(prefix, {"indexed": True})
                total = self.collection.count()
                want = offset + limit
                n = want if not op.filter else min(total, max(4 * want, 20))
                while True:
                    result = self.collection.query(query_texts=[op.query], n_results=max(n, 1), where=where,
                                                   include=["metadatas", "distances"])
                    pairs = [(m, 1.0 - float(d)) for m, d in zip(result["metadatas"][0], result["distances"][0])
                             if keep(m)]
                    if len(pairs) >= want or n >= total or len(result["ids"][0]) < n:
                        break
                    n = min(total, n * 4)
                return [self._item(m, s, searched=True) for m, s in pairs[offset:offset + limit]]
            found = self.collection.get(where=_namespace_where(prefix), include=["metadatas"])
            metas = sorted((m for m in found["metadatas"] if keep(m)), key=lambda m: m["updated_at"], reverse=True)
            return [self._item(m, None, searched=True) for m in metas[offset:offset + limit]]
        except (ChromaError, ValueError) as exc:
            raise MemoryStoreError(f"store search failed: {exc}") from exc

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        namespaces: set[tuple[str, ...]] = set()
        for meta in ChromaMemory._metadatas(self.collection):
            namespace = tuple(json.loads(meta["ns"]))
            if all(_does_match(c, namespace) for c in op.match_conditions or ()):
                namespaces.add(namespace[:op.max_depth] if op.max_depth is not None else namespace)
        return sorted(namespaces)[op.offset:op.offset + op.limit]

    def count(self) -> int:
        """Number of items stored."""
        return int(self.collection.count())
