"""Writes seeds/default/10_machines.csv: the reference app's catalogue, deterministic.

    python seeds/generate.py [--rows N]

Same output on every machine and Python version (a seeded PRNG, fixed lists), so the committed
file and its seed-set hash only change when this script does.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

CATEGORIES = ["lathe", "mill", "drill", "grinder", "saw", "press", "router", "laser"]
MAKERS = [
    "Acme Tooling",
    "Bolt & Sons",
    "Cogsworth",
    "Dynamo Works",
    "Ferro GmbH",
    "Gearhart",
    "Helix Machines",
    "Ironclad",
    "Jigsaw Bros",
    "Kestrel CNC",
    "Lathrop",
    "Millbrook",
]
WORDS = ["Pro", "Max", "Compact", "Heavy", "Precision", "Turbo", "Classic", "Ultra", "Mini"]


def rows(n: int) -> list[list[str]]:
    rng = random.Random(20240101)
    out = []
    for i in range(1, n + 1):
        category = CATEGORIES[rng.randrange(len(CATEGORIES))]
        maker = MAKERS[rng.randrange(len(MAKERS))]
        model = f"{rng.choice(WORDS)} {rng.randrange(100, 9999)}"
        specs = {
            "power_kw": round(rng.uniform(0.5, 45.0), 1),
            "weight_kg": rng.randrange(20, 12000),
            "cnc": rng.random() < 0.4,
        }
        out.append(
            [
                str(i),
                f"{category[:3].upper()}-{i:05d}",
                f"{maker} {model} {category}",
                category,
                maker,
                str(rng.randrange(1975, 2025)),
                str(rng.randrange(50_000, 25_000_000)),
                json.dumps(specs, sort_keys=True),
            ]
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "default" / "10_machines.csv"
    )
    args = ap.parse_args()
    with args.out.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            ["id", "sku", "name", "category", "manufacturer", "year", "price_cents", "specs"]
        )
        w.writerows(rows(args.rows))


if __name__ == "__main__":
    main()
