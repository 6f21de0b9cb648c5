package cli

import (
	"strings"
	"testing"
)

// Each top-level command is built under the name a run dispatches on, so a
// run naming it finds it in the one-command tree it builds.
func TestTopCommandsAreBuiltUnderTheirNames(t *testing.T) {
	a := &app{}
	for name, build := range a.topCommands() {
		if got := build().Name(); got != name {
			t.Errorf("top command %q builds a command named %q", name, got)
		}
	}
}

// A run builds only the command it names; help, a flag first or a typo get
// the whole tree, and both trees list a command's flags alike. `hallmark help`
// and `hallmark completion` (with the scripts' __complete requests) work, as
// cosign's do.
func TestRootCommandBuildsWhatTheRunNeeds(t *testing.T) {
	a := &app{}
	all := len(a.topCommands())
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"sign-blob", "--help"}, 1},
		{[]string{"log", "serve"}, 1},
		{[]string{"help", "sign-blob"}, all},
		{[]string{"-d", "sign-blob"}, all},
		{[]string{"sing-blob"}, all},
		{nil, all},
	} {
		if got := len(a.rootCommand(c.args).Commands()); got != c.want {
			t.Errorf("%q: %d top-level commands, want %d", c.args, got, c.want)
		}
	}
	one := hm(t, nil, "sign-blob", "--help")
	whole := hm(t, nil, "help", "sign-blob")
	if one.code != 0 || one.stdout != whole.stdout || !strings.Contains(one.stdout, "--identity-token") {
		t.Errorf("sign-blob --help (exit %d) differs from help sign-blob:\n%s\n---\n%s", one.code, one.stdout, whole.stdout)
	}
	if r := hm(t, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "verify-blob-attestation") {
		t.Errorf("help: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := hm(t, nil, "completion", "bash"); r.code != 0 || !strings.Contains(r.stdout, "bash completion") {
		t.Errorf("completion bash: exit %d, stderr %q", r.code, r.stderr)
	}
	// What the completion scripts ask.
	if r := hm(t, nil, "__complete", "sign-blob", "--identity-t"); r.code != 0 || !strings.Contains(r.stdout, "--identity-token") {
		t.Errorf("__complete sign-blob --identity-t: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := hm(t, nil, "__completeNoDesc", "verify-b"); r.code != 0 || !strings.Contains(r.stdout, "verify-blob-attestation") {
		t.Errorf("__completeNoDesc verify-b: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// Their argument counts are usage errors too (exit 2), as every command's.
	if r := hm(t, nil, "completion", "bash", "extra"); r.code != 2 {
		t.Errorf("completion bash extra: exit %d, want 2 (stderr %q)", r.code, r.stderr)
	}
}

// A group command given a subcommand it does not have is a usage error
// (exit 2), not its help and exit 0; alone, it prints its help. A required
// flag left out is a usage error too.
func TestGroupCommandsRefuseUnknownSubcommands(t *testing.T) {
	for _, args := range [][]string{{"download", "sbom", "img"}, {"log", "bogus"}, {"policy", "bogus"}} {
		r := hm(t, nil, args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "`+args[1]+`"`) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and unknown command", args, r.code, r.stderr)
		}
	}
	if r := hm(t, nil, "download"); r.code != 0 || !strings.Contains(r.stdout, "Available Commands") {
		t.Errorf("download alone: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := hm(t, nil, "policy", "test", "img"); r.code != exitUsage || !strings.Contains(r.stderr, `required flag(s) "policy" not set`) {
		t.Errorf("policy test without --policy: exit %d, stderr %q", r.code, r.stderr)
	}
}

// Errors name the flag or argument the user gave.
func TestUsageErrorsNameTheInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"download", "attestation", "--predicate-type", "bogus", "img"}, `--predicate-type: predicate type "bogus"`},
		{[]string{"verify-attestation", "--type", "bogus", "--key", "k.pub", "img"}, `--type: predicate type "bogus"`},
		{[]string{"generate-key-pair", "k8s://ns/name"}, "generate-key-pair k8s://ns/name: key references"},
	} {
		if r := hm(t, nil, c.args...); r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// cosign's --offline is accepted by the verify commands (Hallmark is always
// offline): the error is about the missing key, not an unknown flag.
func TestOfflineIsAccepted(t *testing.T) {
	for _, cmd := range []string{"verify", "verify-attestation", "verify-blob", "verify-blob-attestation"} {
		r := hm(t, nil, cmd, "--offline", "--key", "missing.pub", "x")
		if strings.Contains(r.stderr, "unknown flag") {
			t.Errorf("%s --offline: %s", cmd, r.stderr)
		}
	}
}
