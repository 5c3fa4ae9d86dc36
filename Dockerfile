# chatrelay container image.
#
#   docker build -t chatrelay .
#   docker run -d --init --env-file .env -v chatrelay-data:/data chatrelay
#
# `run` (the default command) migrates the database, then execs `chatrelay run` as PID 1 so
# SIGTERM reaches the bot (it stops within TELEGRAM_SHUTDOWN_GRACE / DISCORD_SHUTDOWN_GRACE, 8 s
# by default: inside `docker stop`'s 10 s). Any other chatrelay command works too:
#   docker run --rm -it --env-file .env -v chatrelay-data:/data chatrelay chat
# The SQLite database lives in the /data volume (DATABASE_URL below): a DATABASE_URL in .env
# replaces it, so leave it out there or keep it under /data (.env.example's ./data/chatrelay.db
# is /app/data here, which the bot may not write), or set a postgresql+asyncpg:// URL.
# Health: /healthz, /readyz and /metrics on HEALTH_PORT (8080; 0 turns the server and the
# HEALTHCHECK off).

ARG BASE_IMAGE=python:3.11-slim

# ------------------------------------------------------------------------------------- build
FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1
# binutils: `strip` takes the debug symbols out of the dependencies' C extensions (37 -> 12 MB).
# A venv without pip or setuptools of its own: the base image's pip installs into it.
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv --without-pip /opt/venv

# The locked dependencies first: this layer is rebuilt only when the lock file changes.
COPY requirements.lock /tmp/requirements.lock
RUN python -m pip --python /opt/venv/bin/python install --no-compile -r /tmp/requirements.lock \
    && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} + \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/venv/lib

# The project, as an editable install: the code stays at /app (one copy) so
# core/storage/migrate.py finds /app/migrations, which is not part of the wheel; the venv
# holds the `chatrelay` command and the package metadata (`chatrelay --version`).
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY core ./core
COPY bots ./bots
COPY migrations ./migrations
# The last two commands fail the build, not the first start, when an import or migrations/ is
# missing.
RUN python -m pip --python /opt/venv/bin/python install --no-deps --no-compile -e . \
    && rm -rf /app/*.egg-info /app/build \
    && python -m compileall -q -j 0 --invalidation-mode unchecked-hash /app/core /app/bots /app/migrations \
        /opt/venv/lib/python*/site-packages/__editable__* \
    && /opt/venv/bin/chatrelay --help > /dev/null \
    && /opt/venv/bin/python -c "import core.storage.migrate as m; assert (m.MIGRATIONS_DIR / 'env.py').is_file(), m.MIGRATIONS_DIR"

# ----------------------------------------------------------------------------------- runtime
FROM ${BASE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=""
LABEL org.opencontainers.image.title="chatrelay" \
      org.opencontainers.image.description="Self-hosted chat bot service: any OpenRouter model in Telegram, Discord and the terminal" \
      org.opencontainers.image.source="https://github.com/chatrelay/chatrelay" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY docker/entrypoint.sh /usr/local/bin/chatrelay-entrypoint
COPY docker/healthcheck.py /usr/local/lib/chatrelay/healthcheck.py
RUN chmod 0755 /usr/local/bin/chatrelay-entrypoint \
    && chmod 0644 /usr/local/lib/chatrelay/healthcheck.py \
    && groupadd --system --gid 10001 chatrelay \
    && useradd --system --uid 10001 --gid chatrelay --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin chatrelay \
    && mkdir -p /data && chown chatrelay:chatrelay /data && chmod 0750 /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PTB_TIMEDELTA=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/chatrelay.db \
    HEALTH_PORT=8080

WORKDIR /app
USER chatrelay:chatrelay
VOLUME ["/data"]
# 8080: /healthz, /readyz, /metrics (HEALTH_PORT). 8443: the Telegram webhook, when
# TELEGRAM_WEBHOOK_URL is set (TELEGRAM_WEBHOOK_PORT).
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/lib/chatrelay/healthcheck.py"]
ENTRYPOINT ["chatrelay-entrypoint"]
CMD ["run"]
