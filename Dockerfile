# Build stage: compiles the release binary. No database is needed to build (queries are
# checked at run time; migrations are embedded from ./migrations).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
COPY migrations ./migrations
RUN cargo build --release --locked -p bellhop-server \
 && cp target/release/bellhop /usr/local/bin/bellhop

# Runtime stage: a small Debian image with the binary only, running as a non-root user.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home bellhop
COPY --from=build /usr/local/bin/bellhop /usr/local/bin/bellhop
USER bellhop
ENV BELLHOP_BIND=0.0.0.0:8080 \
    BELLHOP_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health/ready || exit 1
ENTRYPOINT ["bellhop"]
CMD ["serve"]
