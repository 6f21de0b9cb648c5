package idp

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Workflow is a GitHub Actions job the provider mints workflow tokens for,
// with the claims GitHub's token service puts in its ID tokens. Empty fields
// take the defaults Claims documents.
type Workflow struct {
	Repository        string `json:"repository"`                   // owner/name (required)
	WorkflowPath      string `json:"workflow_path,omitempty"`      // default .github/workflows/release.yml
	Ref               string `json:"ref,omitempty"`                // default refs/heads/main
	SHA               string `json:"sha,omitempty"`                // default: derived from repository and ref
	EventName         string `json:"event_name,omitempty"`         // default push
	RunnerEnvironment string `json:"runner_environment,omitempty"` // default github-hosted
	Environment       string `json:"environment,omitempty"`
	Visibility        string `json:"repository_visibility,omitempty"` // default public
	JobWorkflowRef    string `json:"job_workflow_ref,omitempty"`      // default: the workflow's own ref (owner/name/path@ref)
	RunID             string `json:"run_id,omitempty"`                // default: derived
	RunAttempt        string `json:"run_attempt,omitempty"`           // default 1
	Actor             string `json:"actor,omitempty"`                 // default: the owner
}

// Claim checks, written out: bounded-repetition regexps compile to large
// programs at start-up, and every CLI call pays for package initialisation.
type matcher func(string) bool

func charsIn(min, max int, ok func(byte) bool) matcher {
	return func(s string) bool {
		if len(s) < min || len(s) > max {
			return false
		}
		for i := 0; i < len(s); i++ {
			if !ok(s[i]) {
				return false
			}
		}
		return true
	}
}

func (m matcher) MatchString(s string) bool { return m(s) }

func isWordByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

var (
	wordRE  = charsIn(1, 100, isWordByte)
	shaRE   = charsIn(40, 40, func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' })
	digitRE = charsIn(1, 20, func(c byte) bool { return c >= '0' && c <= '9' })
	repoRE  = matcher(func(s string) bool {
		owner, name, ok := strings.Cut(s, "/")
		return ok && wordRE(owner) && wordRE(name)
	})
)

// Claims returns the workflow's token subject and claims, GitHub's shape.
func (w Workflow) Claims() (string, map[string]any, error) {
	if !repoRE.MatchString(w.Repository) {
		return "", nil, invalidRequest(fmt.Sprintf("repository %q must be owner/name", w.Repository))
	}
	owner, _, _ := strings.Cut(w.Repository, "/")
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&w.WorkflowPath, ".github/workflows/release.yml")
	def(&w.Ref, "refs/heads/main")
	def(&w.EventName, "push")
	def(&w.RunnerEnvironment, "github-hosted")
	def(&w.Visibility, "public")
	def(&w.RunAttempt, "1")
	def(&w.Actor, owner)
	def(&w.SHA, derivedSHA(w.Repository, w.Ref))
	def(&w.RunID, strconv.FormatUint(derivedID("run", w.Repository, w.Ref, w.SHA), 10))
	workflowRef := w.Repository + "/" + w.WorkflowPath + "@" + w.Ref
	def(&w.JobWorkflowRef, workflowRef)
	switch {
	case !strings.HasPrefix(w.WorkflowPath, ".github/workflows/") || path.Clean(w.WorkflowPath) != w.WorkflowPath ||
		!(strings.HasSuffix(w.WorkflowPath, ".yml") || strings.HasSuffix(w.WorkflowPath, ".yaml")):
		return "", nil, invalidRequest(fmt.Sprintf("workflow path %q must be .github/workflows/NAME.yml", w.WorkflowPath))
	case !strings.HasPrefix(w.Ref, "refs/") || strings.ContainsAny(w.Ref, " @:?#") || !charsIn(1, 255, func(c byte) bool { return c > 0x20 && c < 0x7f })(w.Ref):
		return "", nil, invalidRequest(fmt.Sprintf("ref %q must be a full git ref (refs/heads/..., refs/tags/...)", w.Ref))
	case !shaRE.MatchString(w.SHA):
		return "", nil, invalidRequest(fmt.Sprintf("sha %q must be 40 lowercase hex digits", w.SHA))
	case !wordRE.MatchString(w.EventName):
		return "", nil, invalidRequest(fmt.Sprintf("event_name %q is not an event name", w.EventName))
	case w.RunnerEnvironment != "github-hosted" && w.RunnerEnvironment != "self-hosted":
		return "", nil, invalidRequest(fmt.Sprintf("runner_environment %q: want github-hosted or self-hosted", w.RunnerEnvironment))
	case w.Visibility != "public" && w.Visibility != "private" && w.Visibility != "internal":
		return "", nil, invalidRequest(fmt.Sprintf("repository_visibility %q: want public, private or internal", w.Visibility))
	case !digitRE.MatchString(w.RunID) || !digitRE.MatchString(w.RunAttempt):
		return "", nil, invalidRequest("run_id and run_attempt must be numbers")
	case w.Environment != "" && !wordRE.MatchString(w.Environment):
		return "", nil, invalidRequest(fmt.Sprintf("environment %q is not an environment name", w.Environment))
	case !wordRE.MatchString(w.Actor):
		return "", nil, invalidRequest(fmt.Sprintf("actor %q is not a user name", w.Actor))
	case !strings.Contains(w.JobWorkflowRef, "/.github/workflows/") || !strings.Contains(w.JobWorkflowRef, "@refs/"):
		return "", nil, invalidRequest(fmt.Sprintf("job_workflow_ref %q must be owner/name/.github/workflows/NAME.yml@REF", w.JobWorkflowRef))
	}
	refType := "branch"
	if strings.HasPrefix(w.Ref, "refs/tags/") {
		refType = "tag"
	}
	sub := "repo:" + w.Repository + ":ref:" + w.Ref
	if w.Environment != "" {
		sub = "repo:" + w.Repository + ":environment:" + w.Environment
	}
	name := strings.TrimSuffix(strings.TrimSuffix(path.Base(w.WorkflowPath), ".yml"), ".yaml")
	claims := map[string]any{
		"ref": w.Ref, "ref_type": refType, "sha": w.SHA,
		"repository": w.Repository, "repository_owner": owner,
		"repository_id":         strconv.FormatUint(derivedID("repo", w.Repository), 10),
		"repository_owner_id":   strconv.FormatUint(derivedID("owner", owner), 10),
		"repository_visibility": w.Visibility,
		"run_id":                w.RunID, "run_number": "1", "run_attempt": w.RunAttempt,
		"runner_environment": w.RunnerEnvironment,
		"actor":              w.Actor, "actor_id": strconv.FormatUint(derivedID("actor", w.Actor), 10),
		"workflow": name, "workflow_ref": workflowRef, "workflow_sha": w.SHA,
		"job_workflow_ref": w.JobWorkflowRef, "job_workflow_sha": w.SHA,
		"event_name": w.EventName, "head_ref": "", "base_ref": "",
	}
	if w.Environment != "" {
		claims["environment"] = w.Environment
	}
	return sub, claims, nil
}

func derivedSHA(parts ...string) string {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

func derivedID(parts ...string) uint64 {
	sum := sha1.Sum([]byte(strings.Join(parts, "\x00")))
	return binary.BigEndian.Uint64(sum[:8]) % 1_000_000_000
}

// WorkflowToken mints a workflow token for aud.
func (p *Provider) WorkflowToken(w Workflow, aud string) (string, error) {
	return p.workflowToken(w, []string{aud})
}

func (p *Provider) workflowToken(w Workflow, aud []string) (string, error) {
	sub, claims, err := w.Claims()
	if err != nil {
		return "", err
	}
	return p.sign(p.GitHubIssuer(), sub, aud, claims)
}

// SigstoreAudience is the audience Fulcio and Hallmark's CA want.
const SigstoreAudience = "sigstore"

// credentialsAudience is the audience of a client-credentials token: the
// one asked for, else the client itself (as OIDC clients such as cosign
// check) and sigstore (as the CA checks).
func credentialsAudience(clientID, aud string) []string {
	if aud != "" {
		return []string{aud}
	}
	if clientID == SigstoreAudience {
		return []string{clientID}
	}
	return []string{clientID, SigstoreAudience}
}

// Run is a registered workflow run: its job asks for tokens with a bearer
// request token, as a GitHub Actions job does through
// ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.
type Run struct {
	Workflow Workflow
	expires  time.Time
}

// RunTTL is how long a registered run can ask for tokens (GitHub's jobs
// may run for six hours).
const RunTTL = 6 * time.Hour

// RegisterRun registers a run for a confidential client and returns the
// request token its job presents.
func (p *Provider) RegisterRun(clientID, secret string, w Workflow) (string, error) {
	c, err := p.authenticate(clientID, secret)
	if err != nil {
		return "", err
	}
	if c.Secret == "" {
		return "", &Error{Code: "unauthorized_client", Description: "only a client with a secret may register workflow runs", Status: 401}
	}
	if _, _, err := w.Claims(); err != nil {
		return "", err
	}
	tok := randomID() + randomID()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.room(len(p.runs)); err != nil {
		return "", err
	}
	p.runs[tok] = &Run{Workflow: w, expires: p.now().Add(RunTTL)}
	return tok, nil
}

// RunToken mints a token for the run a request token names.
func (p *Provider) RunToken(requestToken, aud string) (string, error) {
	p.mu.Lock()
	r, ok := p.runs[requestToken]
	p.mu.Unlock()
	if !ok || p.now().After(r.expires) {
		return "", &Error{Code: "invalid_token", Description: "unknown or expired request token", Status: 401}
	}
	return p.WorkflowToken(r.Workflow, aud)
}

// ClientCredentials is the token endpoint's client_credentials grant: a
// confidential client asks for a token of a configured identity (the first
// when email is empty), for aud (see credentialsAudience when empty).
func (p *Provider) ClientCredentials(clientID, secret, aud, email string) (string, error) {
	c, err := p.authenticate(clientID, secret)
	if err != nil {
		return "", err
	}
	if c.Secret == "" {
		return "", &Error{Code: "unauthorized_client", Description: "the client_credentials grant needs a client with a secret", Status: 401}
	}
	id := p.idents[0]
	if email != "" {
		var ok bool
		if id, ok = p.Identity(email); !ok {
			return "", invalidRequest(fmt.Sprintf("%q is not a configured identity", email))
		}
	}
	return p.emailToken(id, credentialsAudience(c.ID, aud), "")
}

// WorkflowCredentials is the workflow issuer's client_credentials grant.
func (p *Provider) WorkflowCredentials(clientID, secret, aud string, w Workflow) (string, error) {
	c, err := p.authenticate(clientID, secret)
	if err != nil {
		return "", err
	}
	if c.Secret == "" {
		return "", &Error{Code: "unauthorized_client", Description: "the client_credentials grant needs a client with a secret", Status: 401}
	}
	return p.workflowToken(w, credentialsAudience(c.ID, aud))
}
