# A service image with a probe for its health check: busybox (static, ~1 MB), for `wget`.
# Tempo, Loki, the OTel collector and Alloy ship distroless or scratch images without a shell or
# an HTTP client, so a compose health check has nothing to run in them. The base image, pinned,
# comes from docker-compose.yml.
ARG BASE=scratch

FROM busybox:1.37.0-musl AS probe
# The folder a service keeps its data in (DATA_DIR in docker-compose.yml): made here, owned by
# the uid Grafana's images run as, because a fresh volume takes the owner of the folder it is
# mounted on, and without one Docker makes it root's.
RUN mkdir /state && chown 10001:10001 /state

# hadolint ignore=DL3006
FROM ${BASE}
ARG DATA_DIR=/var/lib/fichas-probe
COPY --from=probe /bin/busybox /usr/local/bin/busybox
COPY --from=probe --chown=10001:10001 /state ${DATA_DIR}
