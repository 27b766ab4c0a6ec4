# gosu alone, at /gosu, in an otherwise empty image: other images take it with
#   COPY --from=localhost/gosu:VERSION /gosu /usr/local/bin/gosu
# The build context is a release binary made by scripts/release.sh (no
# network, no compiler: the image holds exactly the released, checksummed
# file). scripts/image.sh builds it for every architecture of a release, as
# one multi-architecture tag, reproducibly; by hand (docs/release.md):
#   scripts/release.sh dist
#   podman build -f Dockerfile --build-arg GOSU_ARCH=amd64 -t localhost/gosu:VERSION dist
FROM scratch
# An asset name from the release (amd64, arm64, armhf, ...; see SHA256SUMS).
ARG GOSU_ARCH=amd64
ARG GOSU_VERSION=unknown
ARG GOSU_REVISION=unknown
LABEL org.opencontainers.image.title="gosu" \
      org.opencontainers.image.description="Drops from root to a user and execs in place" \
      org.opencontainers.image.version="${GOSU_VERSION}" \
      org.opencontainers.image.revision="${GOSU_REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY gosu-${GOSU_ARCH} /gosu
ENTRYPOINT ["/gosu"]
