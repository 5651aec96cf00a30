"""``python -m genaisys.train.engine --out DIR``: write the nano core's offline training data."""

from __future__ import annotations

import argparse

from genaisys.train.engine.mix import MixSizes, write_nano_data


def main(argv: list[str] | None = None) -> int:
    defaults = MixSizes()
    parser = argparse.ArgumentParser(prog="python -m genaisys.train.engine",
                                     description="Write the nano core's training data (easy-VQA train split, "
                                                 "tool-use train phrasings) and held-out routing items.")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    for name, value in defaults.model_dump().items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=value, help=f"records (default {value})")
    args = parser.parse_args(argv)
    sizes = MixSizes(**{name: getattr(args, name) for name in defaults.model_dump()})
    for name, path in write_nano_data(args.out, sizes, seed=args.seed).items():
        print(f"{name:22s} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
