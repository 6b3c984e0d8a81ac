"""Entry point of the Function app: checks the settings, creates the app, registers the blueprints.

Logic lives in the `pipelines` package; see README.md. A setting that is missing
or malformed is logged by name and leaves the app answering 503 (see
`pipelines/startup.py`), rather than failing the host's indexing; the check runs
beside the indexing, on a thread of its own.
"""

import azure.functions as func

from pipelines.blueprints import BLUEPRINTS
from pipelines.startup import begin_check

begin_check()  # beside the indexing: pipelines/startup.py

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
