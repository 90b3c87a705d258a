"""`python -m producer_api`: the API (producer_api.serve), in FOOTFALL_API_WORKERS processes."""

from producer_api.workers import prepare_metrics

prepare_metrics()  # before prometheus_client is imported: it picks its mode at import
from producer_api.serve import main  # noqa: E402

if __name__ == "__main__":
    main()
