# Three build stages so that dependencies are compiled in a layer of their own: `planner`
# writes cargo-chef's recipe (the manifests and lock file, nothing else), `build` cooks the
# dependencies from the recipe (cached until a manifest or the lock file changes), then
# compiles Bellhop itself. No database is needed to build (queries are checked at run time;
# migrations are embedded from ./migrations).
FROM rust:1-bookworm AS chef
RUN cargo install --locked cargo-chef --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked -p bellhop-server --recipe-path recipe.json
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
COPY migrations ./migrations
RUN cargo build --release --locked -p bellhop-server \
 && cp target/release/bellhop /usr/local/bin/bellhop

# Runtime stage: a small Debian image with the binary only, running as a numeric non-root
# user (so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd).
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 bellhop \
 && useradd --system --uid 10001 --gid 10001 --no-create-home bellhop
COPY --from=build /usr/local/bin/bellhop /usr/local/bin/bellhop
USER 10001:10001
ENV BELLHOP_BIND=0.0.0.0:8080 \
    BELLHOP_LOG_FORMAT=json
EXPOSE 8080
# The probe follows BELLHOP_BIND: its port, and its address unless that is a wildcard.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD bind="${BELLHOP_BIND:-0.0.0.0:8080}"; host="${bind%:*}"; port="${bind##*:}"; \
      case "$host" in ""|0.0.0.0|"[::]") host=127.0.0.1 ;; esac; \
      curl -fsSg "http://$host:$port/health/ready" >/dev/null || exit 1
ENTRYPOINT ["bellhop"]
CMD ["serve"]
