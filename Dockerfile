# syntax=docker/dockerfile:1
# The engine's image: one image, three roles (migrate, web, worker), chosen by command.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
# Only the runtime dependencies: no embedded servers, no test tools.
RUN python -m venv /venv \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > requirements.txt \
 && /venv/bin/pip install --requirement requirements.txt \
 && find /venv -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin engine
COPY --from=build /venv /venv
WORKDIR /srv/engine
COPY --chown=engine:engine piccolo_conf.py ./
COPY --chown=engine:engine app ./app
COPY --chown=engine:engine jobs ./jobs
COPY --chown=engine:engine migrations ./migrations
COPY --chown=engine:engine templates ./templates
COPY --chown=engine:engine static ./static
USER engine
ENV PATH=/venv/bin:$PATH \
    PYTHONPATH=/srv/engine \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LOG_FORMAT=json \
    HOST=0.0.0.0 \
    PORT=8000
EXPOSE 8000
# The web role (uvicorn with the engine's limits); compose overrides the command for the
# worker and the migration.
CMD ["python", "-m", "app.web.serve"]
