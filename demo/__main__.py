"""`python -m demo`: serve the demo shop with uvicorn."""

from demo.app import create_app
from demo.config import DemoSettings
from eventschema import http_serving
from eventschema.http_serving import HttpLimits


def main() -> None:
    settings = DemoSettings.from_env()
    print(f"demo shop on http://{settings.host}:{settings.port} (events to {settings.api_url})")
    app = create_app(settings)
    http_serving.run(app, host=settings.host, port=settings.port, limits=HttpLimits.from_env())


if __name__ == "__main__":
    main()
