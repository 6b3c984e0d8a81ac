"""Entry point of the Function app: creates the app and registers the blueprints.

Logic lives in the `pipelines` package; see README.md.
"""

import azure.functions as func

from pipelines.blueprints import BLUEPRINTS

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

for blueprint in BLUEPRINTS:
    app.register_functions(blueprint)
