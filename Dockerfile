# syntax=docker/dockerfile:1
# Multi-stage: a static, cgo-free binary on a distroless base, run as non-root.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/usersvc ./cmd/usersvc \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /app
COPY --from=build /out/usersvc /usr/local/bin/usersvc
COPY --from=build --chown=65532:65532 /out/data /app/data
USER 65532:65532
EXPOSE 8000
ENV HTTP_ADDR=:8000
ENTRYPOINT ["/usr/local/bin/usersvc"]
CMD ["serve"]
