// Package pki owns the key and certificate files Hallmark's services keep:
// a private key or a CA created on first start and read back ever after
// (written whole or not at all), and the certificate templates for roots,
// intermediates and service leaves. It decides nothing about trust.
package pki
