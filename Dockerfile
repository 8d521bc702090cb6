# One image for every role; the command picks it:
#   docker run IMAGE api | worker | gateway | rebuild | token --sub alice
# Build from the repo root: docker build -t live-scoreboard:local .

FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A compiler only in this stage, in case a dependency has no wheel for the platform.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY . .
# Only what production runs: the development tools (local stack, benchmark, test kit) and the tests
# stay out of the image; `scoreboard stack` and `scoreboard bench` are then simply absent.
RUN rm -rf devstack bench testkit tests \
    && pip install --upgrade pip setuptools \
    && pip install .


FROM python:3.11-slim

# Every role listens on all interfaces of its container (the settings default to 127.0.0.1, for
# processes run on a workstation): Kubernetes probes and Prometheus reach the pod IP, compose
# publishes through the container's interface.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SCOREBOARD_API_HOST=0.0.0.0 \
    SCOREBOARD_GATEWAY_HOST=0.0.0.0 \
    SCOREBOARD_WORKER_HOST=0.0.0.0

# Fixed numeric ids so Kubernetes can verify runAsNonRoot.
RUN groupadd --system --gid 10001 scoreboard \
    && useradd --system --uid 10001 --gid scoreboard \
       --home-dir /var/lib/scoreboard --create-home --shell /usr/sbin/nologin scoreboard

COPY --from=build /opt/venv /opt/venv

# The worker keeps its local state (Faust data dir) under the working directory.
WORKDIR /var/lib/scoreboard
USER 10001:10001

# api, gateway, worker (health, readiness and metrics).
EXPOSE 8000 8001 6066

# No HEALTHCHECK here: the port depends on the role, so docker-compose.yml and the
# Kubernetes probes check /readyz and /healthz per role.
ENTRYPOINT ["scoreboard"]
CMD ["api"]
