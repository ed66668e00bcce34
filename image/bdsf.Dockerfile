# The PyBDSF task container: the default image of srcnet-tui's `bdsf` tasks (the quickstart) on CANFAR.
#
# Build from the repository root (the task side, core/task/, is copied in as srcnet_tui.core.task):
#   docker build -f image/bdsf.Dockerfile -t images.canfar.net/srcnet/bdsf-task:1.14.1 .
# The image tag follows BDSF_VERSION; core/runs/config.py DEFAULT_IMAGES["bdsf"] names the same version.
# PyBDSF is pinned by its PyPI release and imported once after installation (image/check-finder.sh).

ARG PYTHON=python:3.11-slim-bookworm

FROM ${PYTHON}
ARG BDSF_VERSION=1.14.1
ARG PSUTIL_VERSION=7.2.2
LABEL org.opencontainers.image.title="srcnet bdsf-task" \
      org.opencontainers.image.description="PyBDSF ${BDSF_VERSION} with the srcnet-tui recorder and task runner" \
      org.opencontainers.image.source="https://github.com/lofar-astron/PyBDSF" \
      org.opencontainers.image.version="${BDSF_VERSION}"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN set -eux; \
    python3 -m pip install --no-cache-dir "bdsf==${BDSF_VERSION}" "psutil==${PSUTIL_VERSION}"
COPY core/__init__.py /opt/srcnet/srcnet_tui/core/
COPY core/task/ /opt/srcnet/srcnet_tui/core/task/
COPY image/srcnet-task image/entrypoint.sh image/check-finder.sh /usr/local/bin/
ENV PYTHONPATH=/opt/srcnet \
    PYTHONUNBUFFERED=1 \
    SRCNET_IMAGE=bdsf-task \
    SRCNET_FINDER=bdsf
RUN set -eux; \
    chmod 0755 /usr/local/bin/srcnet-task /usr/local/bin/entrypoint.sh /usr/local/bin/check-finder.sh; \
    check-finder.sh bdsf "${BDSF_VERSION}"; \
    python3 -m compileall -q /opt/srcnet; \
    useradd --create-home --uid 1000 --shell /bin/bash bdsf; \
    srcnet-task --help > /dev/null
USER bdsf
WORKDIR /home/bdsf
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
