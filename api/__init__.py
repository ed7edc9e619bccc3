"""The HTTP layer: ``api.app.create_app(settings)`` builds the FastAPI service."""
