# ntsflow engine image. Build: docker build -t ntsflow .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ntsflow ./cmd/ntsflow

FROM alpine:3.22
RUN adduser -D -u 10001 ntsflow
COPY --from=build /out/ntsflow /usr/local/bin/ntsflow
USER ntsflow
WORKDIR /home/ntsflow
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD wget -q -O /dev/null http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["ntsflow"]
# Listening beyond the container's loopback needs tokens: mount a token file
# (made with 'ntsflow token') at /secrets/tokens.json, or the engine refuses to
# start and says so. --insecure waives TLS only, for a closed network such as
# docker-compose's; beyond one host, serve TLS (--tls-cert, --tls-key) instead.
CMD ["serve", "--http-addr", "0.0.0.0:8080", "--insecure", "--tokens", "/secrets/tokens.json"]
