"""`dialer bench NAME [--json]`: run a benchmark and print its figures."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from typing import Any

from dialer import bench


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark / 性能基准")
    sub = parser.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{bench.__name__}.{info.name}")
        name = info.name.rstrip("_")  # `import_` is the `import` benchmark
        doc = (module.__doc__ or name).strip().splitlines()[0]
        bench_parser = sub.add_parser(name, help=doc, description=doc)
        bench_parser.add_argument(
            "--json",
            action="store_true",
            help="print the figures last as one JSON object / 最后输出一个 JSON 对象",
        )
        module.add_arguments(bench_parser)
        bench_parser.set_defaults(func=_runner(module))


def _runner(module: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        figures: dict[str, Any] = module.run(args)
        if args.json:
            print(json.dumps(figures, ensure_ascii=False, sort_keys=True))
        else:
            width = max((len(k) for k in figures), default=0)
            for key, value in figures.items():
                print(f"{key:<{width}}  {value}")
        return 0

    return run
