# syntax=docker/dockerfile:1
# The Liaison Portal: one image for the web process (`portal serve`) and `portal worker`.
#   docker build -t liaison-portal .
#   docker run -e PORTAL_SECRET_KEY=... -e PORTAL_DATABASE_URL=postgresql+psycopg://... \
#     -p 8000:8000 liaison-portal
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PORTAL_ENVIRONMENT=production

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin portal \
    && python -m venv /opt/venv

WORKDIR /app

# Dependencies first, read from pyproject.toml alone: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project, installed editable: app/core/migrations.py finds alembic.ini and alembic/ next to
# the app/ package (its ROOT), which a regular install into site-packages would leave behind.
COPY README.md alembic.ini ./
COPY alembic ./alembic
COPY app ./app
RUN pip install --no-deps -e . \
    && mkdir var && chown portal:portal var

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# Migrations run before the server listens (a failed migration stops the container); `exec`
# makes the server PID 1 so it receives SIGTERM and shuts down cleanly. Behind a reverse proxy
# that terminates TLS, set FORWARDED_ALLOW_IPS to its address so the cookie is marked Secure.
CMD ["sh", "-c", "portal db upgrade && exec portal serve --host 0.0.0.0 --port 8000"]
