# The hallmark binary in a distroless image: every command and server.
#   docker build -t hallmark:latest .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags=-s -o /out/hallmark ./cmd/hallmark

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/hallmark /hallmark
USER 65532:65532
ENTRYPOINT ["/hallmark"]
