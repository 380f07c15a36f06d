FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 --user-group exchange

WORKDIR /app

# Dependencies first, from the lock, so that code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY pyproject.toml ./
COPY exchange ./exchange
COPY listings ./listings
COPY matching ./matching
COPY payments ./payments
RUN pip install --no-deps .

USER exchange

# Inside a container the service must listen on the container's interface, not on loopback.
ENV HOST=0.0.0.0
EXPOSE 8000

CMD ["exchange", "serve"]
