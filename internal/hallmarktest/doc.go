// Package hallmarktest holds test helpers: the embedded registry on a
// loopback port, Debian's docker-registry (distribution 2.8) started for a
// test, a real cosign binary, registries that fail on purpose, and sample
// images pushed into any of them.
//
// Peers (cosign, docker-registry) are installed by the test command
// (scripts/test). When one is missing a test skips with a loud message, unless
// HALLMARK_REQUIRE_PEERS is set (as scripts/test and CI set it), when it fails.
package hallmarktest
