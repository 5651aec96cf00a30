"""Memory benchmarks: ingestion overhead of `ChromaMemory`, and Chroma query latency and recall.

1. **Ingestion** (goal: overhead ≤ 10 %). The pydoc topics (79 files, ~465k characters) written
   as ``.txt`` files. ``ChromaMemory.ingest(folder)`` — reading, chunking, content-hash ids, the
   "already stored?" check, embedding, writing — against the baseline a user would write by hand:
   the *same chunks* encoded with sentence-transformers (same MiniLM instance, same batch size)
   and added to a fresh Chroma collection directly (same HNSW settings). Fresh stores each round, the two pipelines
   interleaved, best of ``--repeats`` rounds each; torch on one thread.
2. **Query latency** at 10k and 100k stored chunks: random unit 384-d vectors added to a
   collection configured exactly as ChromaMemory configures its own (`DEFAULT_HNSW`; at 10k also
   Chroma's own defaults, for comparison), queried by vector; p50/p95 over ``--queries`` queries,
   against exact brute-force search (one numpy matmul + top-k) on the same vectors.
3. **Recall@10** of Chroma's HNSW index against that exact search (goal ≥ 0.95), for uniform
   random query vectors (the worst case: in 384-d all points are almost equidistant) and for
   near-duplicates of stored vectors (noise of norm 0.3), where ``source@1`` also says how often
   the vector the query was made from ranks first (finding *the* right chunk).

Run: ``.venv/bin/python bench/memory.py [--quick] [--sizes 10000 100000] [--queries 200]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread, like Chroma's query
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402  (after the thread settings)


def _write_corpus(root: Path, limit: int | None) -> list[Path]:
    import runpy

    from genaisys import assets

    topics = runpy.run_path(str(assets.resolve("pydoc-topics")))["topics"]
    names = sorted(topics)[:limit] if limit else sorted(topics)
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        (root / f"{name}.txt").write_text(topics[name], encoding="utf-8")
    return sorted(root.glob("*.txt"))


def bench_ingestion(repeats: int, limit: int | None) -> dict[str, float]:
    import chromadb

    from genaisys.memory import ChromaMemory, SentenceTransformerEmbedding
    from genaisys.memory.chunking import chunk_text

    work = Path(tempfile.mkdtemp(prefix="genaisys-bench-"))
    try:
        files = _write_corpus(work / "corpus", limit)
        embedding = SentenceTransformerEmbedding()
        model = embedding._st()  # the same loaded MiniLM for both pipelines
        model.encode(["warm up"], batch_size=embedding.batch_size)
        chunks, metas, ids = [], [], []
        for f in files:
            for i, c in enumerate(chunk_text(f.read_text(encoding="utf-8"), size=1000, overlap=150)):
                chunks.append(c.text)
                metas.append({"source": str(f), "start": c.start, "end": c.end, "chunk": i})
                ids.append(f"{f.name}-{i}")
        ours, base = [], []
        for r in range(repeats):
            # -- genaisys: one call does everything
            store = work / f"ours-{r}"
            memory = ChromaMemory(store, embedding=embedding, image_embedding=False)
            t0 = time.perf_counter()
            report = memory.ingest(work / "corpus", chunk_size=1000, chunk_overlap=150, progress=False)
            ours.append(time.perf_counter() - t0)
            assert report.chunks_added == len(chunks), (report, len(chunks))
            # -- baseline: sentence-transformers + Chroma by hand, same chunks, same batch sizes
            client = chromadb.PersistentClient(str(work / f"base-{r}"),
                                               settings=chromadb.Settings(anonymized_telemetry=False))
            # same index settings as ChromaMemory's collection, so the ratio is the wrapper's cost only
            collection = client.create_collection("base", embedding_function=None,
                                                  configuration={"hnsw": dict(memory.hnsw)})
            t0 = time.perf_counter()
            step = memory.batch_size
            for s in range(0, len(chunks), step):
                vectors = model.encode(chunks[s:s + step], batch_size=embedding.batch_size,
                                       normalize_embeddings=True, convert_to_numpy=True)
                collection.add(ids=ids[s:s + step], embeddings=vectors, documents=chunks[s:s + step],
                               metadatas=metas[s:s + step])
            base.append(time.perf_counter() - t0)
        n = len(chunks)
        return {"chunks": n, "files": len(files), "ours_s": min(ours), "base_s": min(base),
                "ours_cps": n / min(ours), "base_cps": n / min(base)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _vectors(size: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Stored vectors ``(size, 384)``, the source row of each near-duplicate query, and the queries."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((size, 384)).astype(np.float32)  # (N, 384)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    # near-duplicates: a stored vector plus noise of norm ~0.3 (cosine ~0.96 to it)
    noise = (0.3 / np.sqrt(384)) * rng.standard_normal((n_queries, 384)).astype(np.float32)
    sources = rng.choice(size, n_queries, replace=False)
    near = data[sources] + noise
    far = rng.standard_normal((n_queries, 384)).astype(np.float32)
    queries = {"near": near / np.linalg.norm(near, axis=1, keepdims=True),
               "random": far / np.linalg.norm(far, axis=1, keepdims=True)}
    return data, sources, queries


def build_index(work: Path, size: int, hnsw: dict) -> float:
    """Add ``size`` vectors to a fresh persistent collection; return vectors added per second."""
    import chromadb

    data, _, _ = _vectors(size, 1)
    client = chromadb.PersistentClient(str(work), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.create_collection("bench-queries", embedding_function=None, configuration={"hnsw": hnsw})
    ids = [str(i) for i in range(size)]
    step = client.get_max_batch_size()
    t0 = time.perf_counter()
    for s in range(0, size, step):
        collection.add(ids=ids[s:s + step], embeddings=data[s:s + step])
    return size / (time.perf_counter() - t0)


def measure_queries(work: Path, size: int, n_queries: int, ef_search: int | None, k: int = 10) -> dict[str, float]:
    """Latency and recall of the index in ``work``. Run in a fresh process: Chroma reads ``ef_search``
    when it loads an index, so a changed value only applies to a process that has not queried yet."""
    import chromadb

    data, sources, queries = _vectors(size, n_queries)
    client = chromadb.PersistentClient(str(work), settings=chromadb.Settings(anonymized_telemetry=False))
    collection = client.get_collection("bench-queries")
    if ef_search is not None:
        collection.modify(configuration={"hnsw": {"ef_search": ef_search}})
    out: dict[str, float] = {}
    for kind, qs in queries.items():
        chroma_ms, exact_ms, recalls, source_first = [], [], [], []
        collection.query(query_embeddings=qs[:1], n_results=k, include=[])  # warm
        for qi, q in enumerate(qs):
            t0 = time.perf_counter()
            got = collection.query(query_embeddings=q[None], n_results=k, include=[])["ids"][0]
            chroma_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            scores = data @ q  # (N,)
            top = np.argpartition(-scores, k)[:k]
            exact = top[np.argsort(-scores[top])]
            exact_ms.append((time.perf_counter() - t0) * 1000)
            recalls.append(len({int(i) for i in got} & {int(i) for i in exact}) / k)
            if kind == "near":
                source_first.append(bool(got) and int(got[0]) == int(sources[qi]))
        out[f"{kind}_recall"] = float(np.mean(recalls))
        if kind == "near":
            out["near_source_at_1"] = float(np.mean(source_first))
            out["p50_ms"] = float(np.percentile(chroma_ms, 50))
            out["p95_ms"] = float(np.percentile(chroma_ms, 95))
            out["exact_p50_ms"] = float(np.percentile(exact_ms, 50))
            out["exact_p95_ms"] = float(np.percentile(exact_ms, 95))
    return out


def _measure_in_subprocess(work: Path, size: int, n_queries: int, ef_search: int | None) -> dict[str, float]:
    import json
    import subprocess
    import sys

    cmd = [sys.executable, __file__, "--measure", str(work), str(size), str(n_queries), str(ef_search or 0)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20 topics, 1 round, 10k chunks only")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--topics", type=int, default=None, help="ingest only the first N pydoc topics")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--ef-search", type=int, nargs="*", default=[400],
                        help="also measure these ef_search values on the same index (besides the default)")
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)  # internal: one measurement, JSON out
    args = parser.parse_args()
    if args.measure:
        import json

        work, size, n_queries, ef = args.measure
        print(json.dumps(measure_queries(Path(work), int(size), int(n_queries), int(ef) or None)))
        return
    import torch

    torch.set_num_threads(1)
    sizes = [10_000] if args.quick else args.sizes
    if args.quick:
        args.ef_search = []

    if not args.skip_ingest:
        ing = bench_ingestion(1 if args.quick else args.repeats, 20 if args.quick else args.topics)
        overhead = ing["ours_s"] / ing["base_s"] - 1
        print(f"\nIngestion: {ing['files']} pydoc topic files → {ing['chunks']} chunks, MiniLM on 1 thread, "
              f"best of {1 if args.quick else args.repeats}")
        print(f"| pipeline | seconds | chunks/s | ratio |\n|---|---:|---:|---:|")
        print(f"| sentence-transformers + Chroma directly (baseline) | {ing['base_s']:.2f} | "
              f"{ing['base_cps']:.1f} | 1.00 |")
        print(f"| ChromaMemory.ingest | {ing['ours_s']:.2f} | {ing['ours_cps']:.1f} | "
              f"{ing['ours_s'] / ing['base_s']:.2f} |")
        print(f"overhead: {overhead * 100:+.1f} % (goal ≤ +10 %) → {'MET' if overhead <= 0.10 else 'NOT MET'}")

    if args.skip_queries:
        return
    from genaisys.memory.chroma import DEFAULT_HNSW

    print(f"\nQueries: random unit 384-d vectors, k=10, {args.queries} queries; genaisys = ChromaMemory's "
          f"DEFAULT_HNSW {DEFAULT_HNSW}, chroma-default = Chroma's own HNSW defaults")
    print("| chunks | index | add/s | p50 ms | p95 ms | exact p50 ms | exact p95 ms | p50 ratio | "
          "recall@10 random | recall@10 near-dup | source@1 near-dup |\n"
          "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        configs = [("genaisys", DEFAULT_HNSW, [None, *args.ef_search])]
        if size == 10_000 and not args.quick:
            configs.append(("chroma-default", {"space": "cosine"}, [None]))
        for label, hnsw, efs in configs:
            work = Path(tempfile.mkdtemp(prefix="genaisys-bench-q-"))
            try:
                add_per_s = build_index(work, size, hnsw)
                for ef in efs:
                    q = _measure_in_subprocess(work, size, args.queries, ef)
                    ef_shown = ef or hnsw.get("ef_search", 100)
                    print(f"| {size:,} | {label}, ef_search={ef_shown} | {add_per_s:,.0f} | {q['p50_ms']:.2f} | "
                          f"{q['p95_ms']:.2f} | {q['exact_p50_ms']:.2f} | {q['exact_p95_ms']:.2f} | "
                          f"{q['p50_ms'] / q['exact_p50_ms']:.2f} | {q['random_recall']:.3f} | "
                          f"{q['near_recall']:.3f} | {q['near_source_at_1']:.3f} |", flush=True)
            finally:
                shutil.rmtree(work, ignore_errors=True)
    print("recall goal ≥ 0.95. recall@10 = overlap with the exact top 10. Uniform random 384-d vectors are the "
          "worst case (all points almost equidistant); a near-duplicate query's other 9 neighbours are just as "
          "random, so its recall@10 tracks that; source@1 = the stored vector it was made from ranks first.")
    print(f"machine: {os.cpu_count()} CPUs (shared with other work while measured)")


if __name__ == "__main__":
    main()
