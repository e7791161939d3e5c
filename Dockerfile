# The Python services (API and workers) of Impressox Agent: `impressox api`, `impressox worker`.
# Build: docker build -t impressox-agent .   Run: docker compose up (see docker-compose.yml).

# The web client (React + TypeScript, web/) is built in a Node stage; only web/dist is copied on.
# schema.d.ts is committed, so this stage needs no Python.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # litellm must not try to download its price list at start-up
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    IMPRESSOX_DATA_DIR=/var/lib/impressox

WORKDIR /app

# Dependencies first, from pyproject alone, so a source change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write(chr(10).join(deps))" \
 && pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY . .
COPY --from=web /web/dist web/dist
# Editable on purpose: config/, web/ and contracts/build are found next to the packages
# (core/settings.py PROJECT_ROOT), and they are not Python package data.
RUN pip install --no-deps -e . \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin impressox \
 && mkdir -p /var/lib/impressox \
 && chown impressox /var/lib/impressox

USER impressox
EXPOSE 8000
ENTRYPOINT ["impressox"]
CMD ["--help"]
