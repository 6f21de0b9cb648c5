// Command initorder links packages startup and collector beside libraries with heavy
// initialisation, for TestInitialisesEarly to read Go's initialisation order.
package main

import (
	_ "github.com/cockroachdb/apd/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "google.golang.org/protobuf/types/descriptorpb"

	_ "hallmark.dev/hallmark/internal/startup"
	_ "hallmark.dev/hallmark/internal/startup/collector"
)

func main() {}
