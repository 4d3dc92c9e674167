FROM python:3.13-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY moderation moderation
COPY cases cases
COPY queues queues
RUN pip install --no-cache-dir .
COPY . .
RUN DJANGO_ENV=development python manage.py collectstatic --no-input -v0
# /var/lib/moderation-metrics: Prometheus multiprocess files (a volume in docker-compose, owned by app).
RUN useradd --system --uid 10001 app && mkdir -p /var/lib/moderation-metrics \
    && chown -R app /app /var/lib/moderation-metrics
USER app
EXPOSE 8000
# Uvicorn workers under gunicorn (moderation/serving.py): slow clients cannot hold them. nginx goes in front.
CMD ["gunicorn", "-c", "python:moderation.serving", "moderation.asgi:application", "--bind", "0.0.0.0:8000"]
