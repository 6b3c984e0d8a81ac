"""Score the `scoring` dataset with the model from the train step.

The dataset is whatever the run was given: the pipeline's default ("full"),
or another registered dataset swapped in by the request
(`DataSetDefinitionValueAssignments`). The script only knows the name
`scoring`. Writes `predictions.csv` into the `scores` output and prints the
row count, so a run's log shows which data it scored.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from pipelines.runtime import Run


def nearest(centres: dict[str, list[float]], point: list[float]) -> str:
    return min(centres, key=lambda label: math.dist(centres[label], point))


def main() -> None:
    parser = argparse.ArgumentParser("score")
    parser.add_argument("--model", required=True, help="folder holding model.json")
    parser.add_argument("--scores", required=True, help="output folder for predictions.csv")
    args = parser.parse_args()

    run = Run.get_context()
    model = json.loads(Path(args.model, "model.json").read_text())
    scoring = run.input_datasets["scoring"]
    records = scoring.to_records()
    correct = 0
    with Path(args.scores, "predictions.csv").open("w", newline="", encoding="utf-8") as sink:
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(["id", "predicted"])
        for record in records:
            predicted = nearest(model["centres"], [float(record[f]) for f in model["features"]])
            writer.writerow([record.get("id", ""), predicted])
            correct += predicted == record.get("species")
    print(f"scored {len(records)} rows of dataset {scoring.name} v{scoring.version} ({scoring.id})")
    run.log("scored_rows", len(records))
    if records and "species" in records[0]:
        print(f"accuracy {correct / len(records):.3f}")
        run.log("accuracy", round(correct / len(records), 4))


if __name__ == "__main__":
    main()
