if __name__ != "genaisys.memory":  # a bare `import memory` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.memory, not memory (DESIGN.md §1)")
