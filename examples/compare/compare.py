"""Compare two tabular inputs and write a summary: the step of Microsoft's publishing guide.

https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-pipelines
The guide's script only echoes its arguments; this one does the comparison it
names, with the standard library only, so it runs in any worker.

Each input is a CSV file or a folder of CSV files (read in name order), as a
datapath or an upstream output would arrive. The summary goes to
<output_data>/summary.json; param1 is printed so a run's log shows the value
that reached the script.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path


def read_rows(location: str) -> tuple[list[str], list[list[str]]]:
    path = Path(location)
    files = sorted(p for p in path.rglob("*.csv") if p.is_file()) if path.is_dir() else [path]
    header: list[str] = []
    rows: list[list[str]] = []
    for file in files:
        with file.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            file_header = next(reader, [])
            header = header or file_header
            rows.extend(row for row in reader if row)
    return header, rows


def compare(first: list[list[str]], second: list[list[str]]) -> list[dict[str, object]]:
    differences: list[dict[str, object]] = []
    for index in range(max(len(first), len(second))):
        left = first[index] if index < len(first) else None
        right = second[index] if index < len(second) else None
        if left != right:
            differences.append({"row": index + 1, "comp_data1": left, "comp_data2": right})
    return differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser("compare")
    parser.add_argument("--comp_data1", type=str, required=True, help="compare_data1 data")
    parser.add_argument("--comp_data2", type=str, required=True, help="compare_data2 data")
    parser.add_argument("--output_data", type=str, required=True, help="output_data data")
    parser.add_argument("--param1", type=int, required=True, help="pipeline parameter")
    args = parser.parse_args(argv)

    print(f"comp_data1 path: {args.comp_data1}")
    print(f"comp_data2 path: {args.comp_data2}")
    print(f"output_data path: {args.output_data}")
    print(f"param1: {args.param1}")

    header1, rows1 = read_rows(args.comp_data1)
    header2, rows2 = read_rows(args.comp_data2)
    differences = compare(rows1, rows2)
    summary = {
        "param1": args.param1,
        "comp_data1": {"rows": len(rows1), "columns": header1},
        "comp_data2": {"rows": len(rows2), "columns": header2},
        "same_columns": header1 == header2,
        "differing_rows": len(differences),
        "differences": differences,
    }
    output = Path(args.output_data)
    output.mkdir(parents=True, exist_ok=True)
    (output / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"{len(differences)} differing rows of {max(len(rows1), len(rows2))}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
