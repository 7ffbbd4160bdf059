# syntax=docker/dockerfile:1
# The Fichas image: the `fichas` command, installed by uv from uv.lock, run as a non-root user.
#
#   docker build -t fichas .                         # the API (target: runtime)
#   docker run -p 8000:8000 -v fichas-data:/data fichas serve --migrate
#   docker build --target backup -t fichas-backup .  # the same, plus pg_dump for PostgreSQL
#
# Settings are FICHAS_* environment variables (see README); the image sets where the data lives
# and that `fichas serve` listens on every interface of the container.

# uv at the version the lock file is written with (dev machines run the same).
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11.13-slim-bookworm AS build
COPY --from=uv /uv /usr/local/bin/uv
# Bytecode compiled once here, not by every container at start; no hard links across the cache
# mount; the image's Python, never one uv would download.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# The dependencies first, in a layer of their own: rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project
# Then the project itself, installed as its wheel is (not editable): the code, and the files it
# ships from the top-level folders (alerting/ rules and templates, grafana/ dashboards: see
# observability/bundled.py), land in the environment, and the runtime copies only that.
COPY README.md ./
COPY fichas fichas
COPY api api
COPY proxy proxy
COPY observability observability
COPY backup backup
COPY loadtest loadtest
COPY alerting alerting
COPY grafana grafana
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

FROM python:3.11.13-slim-bookworm AS runtime
# A fixed uid/gid, so that volumes and bind mounts can be given to it from outside.
RUN groupadd --system --gid 10001 fichas \
    && useradd --system --uid 10001 --gid fichas --no-create-home --home-dir /nonexistent fichas \
    && mkdir /data /backups \
    && chown fichas:fichas /data /backups
# Root-owned code: the process that runs it cannot change it.
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FICHAS_DATA_DIR=/data \
    FICHAS_LISTEN=0.0.0.0:8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Liveness of `fichas serve`, on the port FICHAS_LISTEN names. Python, because the slim image
# has neither curl nor wget; urlopen raises (exit 1) on a refused connection or any non-2xx.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ['FICHAS_LISTEN'].rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=2)"]
ENTRYPOINT ["fichas"]
CMD ["serve"]

# The backup job: `fichas backup` on PostgreSQL runs pg_dump, whose major version must be at
# least the server's. Bookworm's client is 15, the major of the compose stack's PostgreSQL.
FROM runtime AS backup
USER 0:0
# The package is pinned by its major version (in its name); Debian replaces exact versions on
# security updates, and a build pinned to a vanished one would fail.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*
USER 10001:10001
