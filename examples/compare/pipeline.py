"""The pipeline of Microsoft's publishing guide, as this project builds it.

https://learn.microsoft.com/azure/machine-learning/v1/how-to-deploy-pipelines

    python -m pipelines publish examples/compare ...

imports this file and calls `build()`. The guide reads its two inputs from
datastore references; here they ship inside the step's source folder and are
passed as relative paths, so the example runs before any data is uploaded.
The parameter is the guide's: `pipeline_arg`, an int defaulting to 10,
reaching the script as `--param1`.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.authoring import Pipeline, PipelineData, PipelineParameter, PythonScriptStep

HERE = Path(__file__).resolve().parent


def build() -> Pipeline:
    pipeline_param = PipelineParameter(name="pipeline_arg", default_value=10)
    out_data = PipelineData("output_data")
    compare_step = PythonScriptStep(
        name="compare",
        script_name="compare.py",
        arguments=[
            "--comp_data1",
            "data/data1.csv",
            "--comp_data2",
            "data/data2.csv",
            "--output_data",
            out_data,
            "--param1",
            pipeline_param,
        ],
        outputs=[out_data],
        source_directory=HERE,
    )
    return Pipeline(
        steps=[compare_step],
        description="Compare two data sets (the publishing guide's pipeline)",
    )
