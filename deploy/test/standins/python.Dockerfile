# Test stand-in for python:3.12-slim-bookworm (deploy/test/compose-up.sh): Debian's Python 3.11
# (coopwatt needs 3.11+), `python` on PATH and pip allowed to install uv system-wide, as in the
# official image. The host's CA bundle lets the build reach PyPI through this network's TLS
# proxy; it is in this test image only, never in deploy/Dockerfile.
FROM @BASE@
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3 python3-pip python-is-python3 ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /usr/lib/python3*/EXTERNALLY-MANAGED
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    UV_NATIVE_TLS=1 \
    LANG=C.UTF-8
CMD ["python3"]
