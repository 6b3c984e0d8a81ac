"""HTTP routes: blueprints over the services, and the one error mapper."""
