if __name__ != "genaisys.graphs":  # a bare `import graphs` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.graphs, not graphs (DESIGN.md §1)")
