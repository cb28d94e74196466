# syntax=docker/dockerfile:1
# Sluice: build with the Swift toolchain image, run from a slim Debian image.
#   docker build -t sluice .
#   docker run -p 127.0.0.1:6380:6380 -e SLUICE_REQUIREPASS=change-me --stop-timeout 15 sluice
# (--stop-timeout: longer than the server's shutdown-timeout, 10 s, so SIGTERM's grace
# period ends before Docker's SIGKILL.)

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libhiredis-dev liblua5.1-0-dev lua-cjson-dev lua-bitop-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so editing sources does not refetch them.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
# The backend scripts, embedded into the binary at build time.
COPY lua ./lua
COPY Tests ./Tests
# The Swift runtime is linked in, so the runtime image needs no toolchain.
# The flags as in scripts/build-release: -enforce-exclusivity=unchecked for SwiftNIO's
# checks too, -cross-module-optimization to inline across modules.
RUN swift build -c release --static-swift-stdlib --product sluice-server -Xswiftc -enforce-exclusivity=unchecked -Xswiftc -cross-module-optimization \
    && install -D "$(swift build -c release --show-bin-path)/sluice-server" /out/sluice-server

FROM ${RUNTIME_IMAGE}
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libstdc++6 libhiredis0.14 liblua5.1-0 lua-cjson lua-bitop \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin sluice
COPY --from=build /out/sluice-server /usr/local/bin/sluice-server
USER sluice
# A container is reached through its published port, so it listens on all interfaces;
# protected mode then refuses to start without SLUICE_REQUIREPASS (or SLUICE_PROTECTED_MODE=no).
ENV SLUICE_BIND=0.0.0.0 \
    SLUICE_PORT=6380
EXPOSE 6380
# Reads the same SLUICE_* variables (and SLUICE_CONFIG file) as the server: configure
# the container through them, not through command-line flags, so the check finds it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["sluice-server", "--health-check"]
ENTRYPOINT ["sluice-server"]
