# syntax=docker/dockerfile:1
#
# pcapdaemon in a distroless image: one static binary, no shell, no libc,
# running as the image's non-root user (65532) with CAP_NET_RAW as a file
# capability on the binary. See docs/deploy.md.
#
#   docker build --build-arg VERSION=$(git describe --always --dirty) -t pcapdaemon .
#   docker run --network host --cap-drop ALL --cap-add NET_RAW --read-only \
#     -v /etc/pcapdaemon:/etc/pcapdaemon:ro pcapdaemon -config /etc/pcapdaemon/pcapdaemon.toml
#
# Build with BuildKit (the default builder since Docker 23): it keeps the
# security.capability extended attribute when COPY --from copies the binary
# between stages. The classic builder and some others (kaniko) drop it; the
# daemon then refuses to start, saying CAP_NET_RAW is missing.

ARG GO_VERSION=1.26

# --- build: static binary, stamped, with the file capability -------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH
# .git is not in the build context: pass the version in.
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH VERSION=$VERSION OUT=/out/pcapdaemon scripts/build.sh
# cap_net_raw+ep: at exec the kernel puts CAP_NET_RAW in the permitted and
# effective sets of whoever runs the binary, as long as the container's
# bounding set holds NET_RAW (--cap-add NET_RAW / capabilities.add) and
# no_new_privs is off. Setting it last matters: a later chown or chmod of
# the file would clear it. (setcap works on a binary of any architecture.)
RUN setcap cap_net_raw+ep /out/pcapdaemon \
 && getcap /out/pcapdaemon | grep -q 'cap_net_raw=ep'
# The working directory (default local captures go to ./captures), owned by
# the runtime user.
RUN mkdir -p /out/state

# --- runtime --------------------------------------------------------------
# static:nonroot has CA certificates (for S3 and Cloudshark over TLS),
# tzdata and an /etc/passwd naming uid 65532 "nonroot"; nothing else.
FROM gcr.io/distroless/static:nonroot
# No --chown or --chmod here: changing the owner clears the capability.
COPY --from=build /out/pcapdaemon /usr/local/bin/pcapdaemon
COPY --from=build --chown=65532:65532 /out/state /var/lib/pcapdaemon
WORKDIR /var/lib/pcapdaemon
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/pcapdaemon"]
