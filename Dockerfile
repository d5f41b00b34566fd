# The vigor image: one binary, every target (`vigor serve --target …`, `vigor migrate`).
# compose/compose.yaml runs every container of the distributed stack from it.
#
#   docker build -t vigor .
#   docker run --rm -p 8080:8080 vigor        # all-in-one on SQLite under /var/lib/vigor
#
# Three stages: `skeleton` reduces the source tree to the manifests (with empty
# sources), `builder` compiles the dependencies from that skeleton — a layer that only
# changes when Cargo.toml or Cargo.lock files change — and then the real sources, and
# `runtime` is Debian slim with the binary, run as an unprivileged user.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS skeleton
WORKDIR /src
COPY . .
# Keep the workspace's manifests, the lock file and toolchain settings; give every
# package an empty library, an empty `main` and every explicitly declared target or
# build script, so that cargo can resolve and build the dependency graph. Timestamps
# are zeroed: the layer's content then only depends on the manifests.
RUN set -eu; \
    mkdir /skeleton; \
    for f in Cargo.lock rust-toolchain rust-toolchain.toml .cargo/config.toml; do \
        if [ -e "$f" ]; then cp --parents "$f" /skeleton/; fi; \
    done; \
    find . -name Cargo.toml -not -path './target/*' | while read -r manifest; do \
        dir=$(dirname "$manifest"); \
        mkdir -p "/skeleton/$dir"; \
        cp "$manifest" "/skeleton/$manifest"; \
        grep -q '^\[package\]' "$manifest" || continue; \
        mkdir -p "/skeleton/$dir/src"; \
        : > "/skeleton/$dir/src/lib.rs"; \
        echo 'fn main() {}' > "/skeleton/$dir/src/main.rs"; \
        sed -nE 's/^[[:space:]]*(path|build)[[:space:]]*=[[:space:]]*"([^"]+\.rs)".*/\2/p' "$manifest" \
        | while read -r target; do \
            mkdir -p "$(dirname "/skeleton/$dir/$target")"; \
            echo 'fn main() {}' > "/skeleton/$dir/$target"; \
        done; \
    done; \
    find /skeleton -exec touch -h -d @0 {} +

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
COPY --from=skeleton /skeleton ./
# Every dependency, compiled once per change of the manifests.
RUN cargo build --release --locked -p vigor
COPY . .
# The copied sources may carry timestamps older than the skeleton build above; touch
# them so cargo rebuilds the workspace's own crates rather than keep the empty ones.
RUN find . -path ./target -prune -o -type f -name '*.rs' -exec touch {} + \
    && cargo build --release --locked -p vigor \
    && install -D -m 0755 target/release/vigor /out/vigor

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: TLS to external services; curl: container health checks.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 vigor \
    && useradd --system --uid 10001 --gid vigor --home-dir /var/lib/vigor \
        --shell /usr/sbin/nologin vigor \
    && install -d -o vigor -g vigor -m 0750 /var/lib/vigor
COPY --from=builder /out/vigor /usr/local/bin/vigor
USER vigor:vigor
WORKDIR /var/lib/vigor
# Listen on every interface inside the container; keep embedded data in the volume
# directory; log JSON lines for collectors.
ENV VIGOR_LISTEN=0.0.0.0:8080 \
    VIGOR_DATA_DIR=/var/lib/vigor \
    VIGOR_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["vigor"]
CMD ["serve"]
