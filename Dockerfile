# jumpgate as a container image: built from this checkout, run as a non-root
# user from a slim Debian base (it keeps a shell, so GitLab CI jobs can use
# the image directly with `entrypoint: [""]`).
#
#   docker build -t jumpgate .
#   docker run --rm -v "$PWD/state:/work/state:ro" jumpgate validate state
#
# The release workflow (.github/workflows/release.yml) builds and pushes it
# for linux/amd64 and linux/arm64.

# --- build: the release binary -------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and target dir between local builds
# (BuildKit); the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin jumpgate \
    && install -Dm755 target/release/jumpgate /out/jumpgate \
    && strip /out/jumpgate

# --- runtime: the binary, CA certificates, a non-root user ----------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --user-group --create-home --home-dir /work jumpgate
COPY --from=build /out/jumpgate /usr/local/bin/jumpgate
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["jumpgate"]
CMD ["--help"]
