# One image for every Footfall process (api, sink, topics helper); the compose command picks which.

# The browser tracker served at /t.js is built with npm; only its bundle goes into the image.
FROM node:20-slim AS tracker
WORKDIR /tracker
COPY tracker/package.json tracker/package-lock.json ./
RUN npm ci
COPY tracker/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FOOTFALL_DATA_DIR=/var/lib/footfall \
    FOOTFALL_SCHEMA_DIR=/app/avro

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code edits do not re-download wheels:
# empty package stubs let pip resolve and install the project's dependencies.
COPY pyproject.toml ./
RUN for p in eventschema producer_api consumers footfall footfall_sdk csv_import footfall_analytics; do mkdir -p $p && touch $p/__init__.py; done \
 && pip install . \
 && pip uninstall -y footfall \
 && rm -rf eventschema producer_api consumers footfall footfall_sdk csv_import footfall_analytics build *.egg-info

# The code and the data files it finds relative to the repo layout (schemas, ClickHouse migrations).
COPY avro/ avro/
COPY deploy/ deploy/
COPY eventschema/ eventschema/
COPY producer_api/ producer_api/
COPY consumers/ consumers/
COPY footfall/ footfall/
COPY footfall_sdk/ footfall_sdk/
COPY csv_import/ csv_import/
COPY footfall_analytics/ footfall_analytics/
# Not the demo shop, the test fakes or the benchmarks: they are not part of the server.
COPY --from=tracker /tracker/dist/ tracker/dist/
# Editable, so modules resolve avro/ and deploy/ beside them exactly as in a checkout.
RUN pip install --no-deps -e . \
 && useradd --system --uid 10001 --home-dir /var/lib/footfall --create-home footfall

USER footfall
EXPOSE 8080 8124
CMD ["python", "-m", "producer_api"]
