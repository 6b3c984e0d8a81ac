"""Write the example's data: `python make_data.py` (the CSVs in data/ are its output, committed).

Three kinds of iris-like flowers, two measurements each, drawn around three
centres with a fixed seed, so the files are the same on every machine:
`train.csv` (a small labelled sample to learn from) and `full.csv` (the whole
batch to score; it keeps its labels so a run can report its accuracy).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

CENTRES = {"setosa": (5.0, 3.4), "versicolor": (5.9, 2.8), "virginica": (6.6, 3.0)}
SPREAD = 0.25
SEED = 20260630  # the day SDK v1 support ended


def rows(count: int, rng: random.Random, first_id: int) -> list[list[str]]:
    out = []
    labels = sorted(CENTRES)
    for index in range(count):
        label = labels[index % len(labels)]
        x, y = CENTRES[label]
        out.append(
            [str(first_id + index), f"{rng.gauss(x, SPREAD):.2f}", f"{rng.gauss(y, SPREAD):.2f}", label]
        )
    return out


def write(path: Path, data: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(["id", "sepal_length", "sepal_width", "species"])
        writer.writerows(data)


def main() -> None:
    rng = random.Random(SEED)
    folder = Path(__file__).resolve().parent / "data"
    folder.mkdir(exist_ok=True)
    write(folder / "train.csv", rows(30, rng, 1))
    write(folder / "full.csv", rows(240, rng, 1001))


if __name__ == "__main__":
    main()
