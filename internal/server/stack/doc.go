// Package stack assembles Hallmark's services for one machine from a data
// directory: each service's keys and certificates created on first start
// and read back after (DIR/<service>/...), and the trust files that name
// them all (DIR/trusted-root.json, DIR/signing-config.json,
// DIR/services.json). Commands that run one service and `hallmark serve`,
// which runs them all, open services the same way through it.
package stack
