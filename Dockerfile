# For those with a container engine; `make image` builds the same image without one (hack/image).
# Both give the same layout, which hack/image's tests check: an empty base, one layer with the CA
# bundle and the user database, one layer with the static manager, user 65532, no shell.
FROM golang:1.26 AS builder
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /workspace
COPY go.mod go.sum ./
RUN go mod download
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
COPY hack/image/ hack/image/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
      -ldflags="-s -w -X github.com/ocsha/ocs-ha-operator/internal/version.Version=${VERSION} -X github.com/ocsha/ocs-ha-operator/internal/version.Revision=${REVISION}" \
      -o /out/manager . \
 && go run ./hack/image --rootfs /out/rootfs

FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=1970-01-01T00:00:00Z
COPY --from=builder /out/rootfs/ /
COPY --from=builder /out/manager /manager
LABEL org.opencontainers.image.title="ocs-ha-operator" \
      org.opencontainers.image.description="Keeps OCS 2007 R2 and Skype for Business Standard Edition servers highly available over WinRM." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/ocsha/ocs-ha-operator" \
      org.opencontainers.image.url="https://github.com/ocsha/ocs-ha-operator" \
      org.opencontainers.image.documentation="https://github.com/ocsha/ocs-ha-operator#install" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="ocsha"
WORKDIR /
USER 65532:65532
ENTRYPOINT ["/manager"]
