"""Batch scoring: train on a small registered dataset, score a large one.

The promise of the publishing guide, "train on a smaller dataset but
inference on the complete dataset", by changing the request, not the
pipeline: the scoring data is the dataset PipelineParameter `scoring_data`
(default: the latest "full" when the run is created), swapped per run with
`DataSetDefinitionValueAssignments`. The training data is fixed: the latest
"train". See README.md for the data, the registration and the two requests.

    python -m pipelines publish examples/batch_scoring --name batch-scoring --endpoint batch-scoring
"""

from __future__ import annotations

from pathlib import Path

from pipelines.authoring import (
    DatasetConsumptionConfig,
    DatasetRef,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
)

STEPS = Path(__file__).resolve().parent / "steps"


def build() -> Pipeline:
    training = DatasetConsumptionConfig("training", DatasetRef.get_by_name("train")).as_download()
    scoring_data = PipelineParameter(name="scoring_data", default_value=DatasetRef.get_by_name("full"))
    scoring = DatasetConsumptionConfig("scoring", scoring_data).as_download()
    model = PipelineData("model")
    scores = PipelineData("scores")
    train = PythonScriptStep(
        name="train",
        script_name="train.py",
        source_directory=STEPS,
        arguments=["--model", model],
        inputs=[training],
        outputs=[model],
    )
    score = PythonScriptStep(
        name="score",
        script_name="score.py",
        source_directory=STEPS,
        arguments=["--model", model, "--scores", scores],
        inputs=[model, scoring],
        outputs=[scores],
    )
    return Pipeline(
        steps=[train, score], description="Train on 'train', score 'scoring_data' (default: 'full')"
    )
