"""Learn one centre per species from the `training` dataset: a nearest-centroid model.

Standard library only (`to_records()`); with pandas installed,
`to_pandas_dataframe().groupby("species").mean()` would do the same.
Writes `model.json` into the `model` output folder.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from pipelines.runtime import Run

FEATURES = ("sepal_length", "sepal_width")


def train(records: list[dict[str, str]]) -> dict[str, list[float]]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(FEATURES))
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        label = record["species"]
        counts[label] += 1
        for index, feature in enumerate(FEATURES):
            sums[label][index] += float(record[feature])
    return {label: [total / counts[label] for total in sums[label]] for label in sorted(sums)}


def main() -> None:
    parser = argparse.ArgumentParser("train")
    parser.add_argument("--model", required=True, help="output folder for model.json")
    args = parser.parse_args()

    run = Run.get_context()
    training = run.input_datasets["training"]  # the consumption name, not a parameter name
    records = training.to_records()
    centres = train(records)
    Path(args.model, "model.json").write_text(
        json.dumps({"features": FEATURES, "centres": centres}, indent=2)
    )
    print(f"trained on {len(records)} rows of dataset {training.name} v{training.version}")
    run.log("training_rows", len(records))


if __name__ == "__main__":
    main()
