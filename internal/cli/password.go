package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// passwordEnv lists the variables a key password is read from, in order.
var passwordEnv = []string{"COSIGN_PASSWORD", "HALLMARK_PASSWORD"}

func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// password returns the key password: from COSIGN_PASSWORD or
// HALLMARK_PASSWORD when set (even empty), else a prompt on a terminal
// (asked twice when confirm is true), else one line of standard input.
func (a *app) password(confirm bool, what string) ([]byte, error) {
	for _, name := range passwordEnv {
		if v, ok := a.lookupEnv(name); ok {
			return []byte(v), nil
		}
	}
	if !a.isTTY() {
		line, err := bufio.NewReader(a.stdin).ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading password from standard input: %w", err)
		}
		return bytes.TrimRight(line, "\r\n"), nil
	}
	fd := int(a.stdin.(*os.File).Fd())
	fmt.Fprintf(a.stderr, "Enter password for %s: ", what)
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if !confirm {
		return p1, nil
	}
	fmt.Fprintf(a.stderr, "Enter password for %s again: ", what)
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("passwords do not match")
	}
	return p1, nil
}
