package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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
	p1, err := readPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if !confirm {
		return p1, nil
	}
	fmt.Fprintf(a.stderr, "Enter password for %s again: ", what)
	p2, err := readPassword(fd)
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("reading password: %w", err)
	}
	if !bytes.Equal(p1, p2) {
		return nil, errors.New("passwords do not match")
	}
	return p1, nil
}

// readPassword reads a password from the terminal fd without echo, and gives
// up on SIGINT or SIGTERM (which the process catches, so a blocked read
// would ignore Ctrl-C), giving the terminal its echo back.
func readPassword(fd int) ([]byte, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	type read struct {
		p   []byte
		err error
	}
	done := make(chan read, 1)
	go func() { p, err := term.ReadPassword(fd); done <- read{p, err} }()
	select {
	case r := <-done:
		return r.p, r.err
	case s := <-sigs:
		_ = term.Restore(fd, state)
		return nil, fmt.Errorf("interrupted (%v)", s)
	}
}
