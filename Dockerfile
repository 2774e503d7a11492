# syntax=docker/dockerfile:1
# lookoutd, lookout and loadgen on a distroless-style runtime: FROM scratch plus the
# four shared libraries `ldd` names for them (libc, libm, libgcc_s, the loader) from
# Debian bookworm, /etc/passwd and /etc/group, and nothing else (no shell, no package
# manager): about 30 MB.
#
# Two ways to put the binaries in, onto the same runtime stage:
#
#   docker build -t lookout:dev .
#       Users with a registry (the default, last stage): compiles in rust:1.95-bookworm
#       with BuildKit's cache mounts. Not exercised by CI, which reaches no registry.
#
#   make image BINARIES=prebuilt   (docker build --target prebuilt -t lookout:dev .)
#       CI and machines without a registry: the host's `cargo build --release`
#       binaries, stripped of debug info into dist/ by the Makefile. The host must run
#       glibc 2.36 or older (Debian 12), as the libraries come from bookworm. This is
#       the path CI builds and runs (scripts/test-containers.sh), after
#       scripts/base-images.sh has made debian:bookworm-slim from Debian's packages.
#
# It is a --target rather than a build argument because Docker's classic builder (all
# an engine without buildx has) builds every stage before the target: a stage named by
# an argument would still pull rust:1.95-bookworm. BuildKit skips unused stages either way.
#
# Runtime user: the daemon must read /var/log/pods/**, which the kubelet writes as
# root with mode 0640/0644 and directories 0755. Files are world-readable on common
# distributions, so the image runs as an unprivileged uid (65532) by default; on
# nodes where logs are 0640 root:root, the DaemonSet sets `runAsUser: 0` with every
# capability dropped but DAC_READ_SEARCH (deploy/daemonset.yaml) rather than baking
# root into the image. The data dir is 65532:0 mode 0770 so both users can write it
# without CAP_DAC_OVERRIDE.
#
# No init: lookoutd handles SIGTERM and SIGINT itself (a final commit, then exit 0)
# and starts no child processes, so as PID 1 it has nothing to reap.

# --- runtime root filesystem, from the Debian image ------------------------------
FROM debian:bookworm-slim AS rootfs
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN mkdir -p /rootfs/etc /rootfs/usr/local/bin /rootfs/var/lib/lookout /rootfs/usr/share/doc \
 && for lib in libc.so.6 libm.so.6 libgcc_s.so.1; do \
      path="$(ldconfig -p | awk -v lib="$lib" '$1 == lib { print $NF; exit }')"; \
      test -n "$path"; cp --parents -L "$path" /rootfs; \
    done \
 && for loader in /lib64/ld-linux-*.so.* /lib/ld-linux-*.so.* /lib/*-linux-gnu/ld-linux-*.so.*; do \
      if [ -e "$loader" ]; then cp --parents -L "$loader" /rootfs; fi; \
    done \
 && cp -r /usr/share/doc/libc6 /usr/share/doc/libgcc-s1 /rootfs/usr/share/doc/ \
 && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'root:x:0:\nnonroot:x:65532:\n' > /rootfs/etc/group \
 && printf 'hosts: files dns\n' > /rootfs/etc/nsswitch.conf \
 && chown 65532:0 /rootfs/var/lib/lookout && chmod 0770 /rootfs/var/lib/lookout

# --- the runtime stage both paths share -------------------------------------------
FROM scratch AS runtime
COPY --from=rootfs /rootfs/ /
USER 65532:65532
VOLUME ["/var/lib/lookout"]
EXPOSE 7700 7701
ENTRYPOINT ["/usr/local/bin/lookoutd"]
CMD ["--log-dir=/var/log", "--data-dir=/var/lib/lookout", "--listen=127.0.0.1:7700", "--metrics-listen=0.0.0.0:7701"]

# --- CI / no registry: the host's release binaries --------------------------------
FROM runtime AS prebuilt
COPY dist/lookoutd dist/lookout dist/loadgen /usr/local/bin/

# --- users with a registry: compile in the official Rust image ---------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and compiled dependencies between builds, so an
# edit to Lookout's code does not rebuild tantivy and tokio. Debug info is left out:
# it is 250 MB of the 277 MB the three binaries weigh with the release profile's.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=debuginfo \
    cargo build --release --locked --bin lookoutd --bin lookout --bin loadgen \
 && mkdir -p /out && cp target/release/lookoutd target/release/lookout target/release/loadgen /out/

FROM runtime
COPY --from=build /out/lookoutd /out/lookout /out/loadgen /usr/local/bin/
