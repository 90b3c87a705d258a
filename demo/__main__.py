"""`python -m demo`: serve the demo shop with uvicorn."""

import uvicorn

from demo.app import create_app
from demo.config import DemoSettings


def main() -> None:
    settings = DemoSettings.from_env()
    print(f"demo shop on http://{settings.host}:{settings.port} (events to {settings.api_url})")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
