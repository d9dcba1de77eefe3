# Build stage: dependencies into a virtualenv, static files collected.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 NEWSROOM_STATIC_MANIFEST=true
WORKDIR /app
COPY pyproject.toml ./
# Only the dependencies are installed; the code runs from /app.
RUN python -m venv /venv \
 && python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['s3']))" > /tmp/requirements.txt \
 && /venv/bin/pip install -r /tmp/requirements.txt
# .dockerignore keeps the local virtualenv, database, secrets and uploads out.
COPY . .
RUN DJANGO_SECRET_KEY=collectstatic-only /venv/bin/python manage.py collectstatic --no-input \
 && mkdir -p media

# Run stage: the virtualenv and the app, served by gunicorn as a non-root user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 newsroom
COPY --from=build /venv /venv
COPY --from=build --chown=newsroom:newsroom /app /app
WORKDIR /app
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSROOM_STATIC_MANIFEST=true \
    DJANGO_MEDIA_ROOT=/app/media
USER newsroom
EXPOSE 8000
# The process answers (no database involved): the orchestrator restarts a
# hung container; balancers should probe /readyz to route around a database outage.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# The web server by default. The same image runs the task workers
# (`python manage.py run_worker`) and the scheduler (`python manage.py
# run_scheduler`); both stop cleanly on SIGTERM (compose.yaml runs all three).
CMD ["gunicorn", "--config", "gunicorn.conf.py", "newsroom.wsgi"]
