"""Entry point of the Function app: checks the settings, creates the app, registers the blueprints.

Logic lives in the `pipelines` package; see README.md.
"""

import azure.functions as func

from pipelines.blueprints import BLUEPRINTS
from pipelines.startup import check_configuration

check_configuration()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
