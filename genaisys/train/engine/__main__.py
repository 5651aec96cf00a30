"""``python -m genaisys.train.engine --out DIR``: the same as ``genaisys train data --out DIR``."""

from __future__ import annotations

import sys

import typer

from genaisys.train.cli import train_app

if __name__ == "__main__":
    typer.main.get_command(train_app)(["data", *sys.argv[1:]], prog_name="genaisys train")
