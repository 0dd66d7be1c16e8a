# syntax=docker/dockerfile:1
#
# Rebound as a container image: a static binary on debian:bookworm-slim.
#
#   docker build -t rebound .
#   docker run -p 2525:2525 -p 8025:8025 -v rebound:/var/lib/rebound rebound
#
# The final stage is debian:bookworm-slim, not distroless: Rebound has no
# command that fetches a URL, and the HEALTHCHECK needs one (curl). The
# image's own configuration, /etc/rebound/rebound.toml, listens on all
# addresses and keeps a SQLite store in /var/lib/rebound; mount another file
# there to change it. Secrets come from the environment (REBOUND_API_TOKEN,
# REBOUND_VERP_KEYS, PGPASSWORD for a PostgreSQL store), never from the image.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# The module graph first, so that a change of the code alone reuses the
# downloaded modules. go.mod replaces go-smtp with the copy in third_party.
COPY go.mod go.sum ./
COPY third_party/ third_party/
RUN --mount=type=cache,target=/go/pkg/mod \
	go mod download
COPY . .
# CGO_ENABLED=0: the SQLite driver is pure Go, so the binary is static and
# needs no libc of the final stage.
RUN --mount=type=cache,target=/go/pkg/mod \
	--mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/rebound ./cmd/rebound

FROM debian:bookworm-slim
RUN apt-get update \
	&& apt-get install -y --no-install-recommends ca-certificates curl \
	&& rm -rf /var/lib/apt/lists/* \
	&& groupadd --system --gid 10025 rebound \
	&& useradd --system --uid 10025 --gid rebound --home-dir /var/lib/rebound \
		--no-create-home --shell /usr/sbin/nologin rebound \
	&& install -d -o rebound -g rebound -m 0750 /var/lib/rebound \
	&& install -d -m 0755 /etc/rebound
COPY --from=build /out/rebound /usr/local/bin/rebound
COPY packaging/docker.toml /etc/rebound/rebound.toml
USER rebound:rebound
WORKDIR /var/lib/rebound
# Large messages are spooled to disk (listener.spool_dir, default $TMPDIR):
# keep them on the volume rather than in the container's writable layer.
ENV TMPDIR=/var/lib/rebound
VOLUME ["/var/lib/rebound"]
# SMTP (or LMTP) listener and HTTP API.
EXPOSE 2525 8025
# /healthz answers as soon as the API listens; it needs no token. The port
# is the one of api.listen in the configuration.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
	CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8025/healthz"]
# rebound serve stops on SIGTERM, finishing the transactions in flight.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rebound"]
CMD ["serve", "--config", "/etc/rebound/rebound.toml"]
