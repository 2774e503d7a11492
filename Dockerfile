# syntax=docker/dockerfile:1
# Multi-stage build of lookoutd and lookout.
#
# Runtime user: the daemon must read /var/log/pods/**, which the kubelet writes as
# root with mode 0640/0644 and directories 0755. Files are world-readable on common
# distributions, so the image runs as an unprivileged uid (65532) by default; on
# nodes where logs are 0640 root:root, set `runAsUser: 0` in the DaemonSet (see
# deploy/daemonset.yaml) rather than baking root into the image.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and compiled dependencies between builds, so an
# edit to Lookout's code does not rebuild tantivy and tokio.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin lookoutd --bin lookout --bin loadgen \
 && mkdir -p /out && cp target/release/lookoutd target/release/lookout target/release/loadgen /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/lookoutd /usr/local/bin/lookoutd
COPY --from=build /out/lookout /usr/local/bin/lookout
COPY --from=build /out/loadgen /usr/local/bin/loadgen
RUN mkdir -p /var/lib/lookout && chown 65532:65532 /var/lib/lookout
USER 65532:65532
VOLUME ["/var/lib/lookout"]
EXPOSE 7700 7701
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/lookoutd"]
CMD ["--log-dir=/var/log", "--data-dir=/var/lib/lookout", "--listen=127.0.0.1:7700", "--metrics-listen=0.0.0.0:7701"]
