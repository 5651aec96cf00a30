if __name__ != "genaisys.tools":  # a bare `import tools` from the repo root would load a second copy
    raise ImportError("import this package as genaisys.tools, not tools (DESIGN.md §1)")
