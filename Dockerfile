# Minyi (民意) dialer daemon. Asterisk runs elsewhere (or in its own container) and reaches
# our FastAGI port; we reach its AMI port. See asterisk_conf/README.md.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng sox libsox-fmt-all ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/minyi
COPY setup.cfg pyproject.toml README.md ./
COPY dialer ./dialer
COPY twisted ./twisted
COPY ivr_scripts ./ivr_scripts
RUN pip install --no-cache-dir '.[postgres]' && useradd --system --home /var/lib/minyi minyi \
 && mkdir -p /var/lib/minyi/recordings && chown -R minyi /var/lib/minyi

USER minyi
ENV DIALER_DB=sqlite:////var/lib/minyi/dialer.db
VOLUME ["/var/lib/minyi"]
# 4573 FastAGI, 8080 web (/metrics, /healthz). Bind addresses come from the config file;
# loopback is the default, so a container config must choose 0.0.0.0 on purpose.
EXPOSE 4573 8080
ENTRYPOINT ["dialer"]
CMD ["run", "--config", "/etc/minyi/dialer.toml"]
