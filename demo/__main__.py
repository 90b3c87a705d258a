"""`python -m demo`: serve the demo shop with uvicorn."""

from demo.app import create_app
from demo.config import DemoSettings
from eventschema import http_serving


def main() -> None:
    settings = DemoSettings.from_env()
    print(f"demo shop on http://{settings.host}:{settings.port} (events to {settings.api_url})")
    http_serving.run(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
