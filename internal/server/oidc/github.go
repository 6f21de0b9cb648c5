package oidc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"hallmark.dev/hallmark/pkg/idp"
)

// workflowFromForm reads a workflow from form fields named as its JSON.
func workflowFromForm(r *http.Request) idp.Workflow {
	f := r.PostForm
	return idp.Workflow{
		Repository: f.Get("repository"), WorkflowPath: f.Get("workflow_path"), Ref: f.Get("ref"), SHA: f.Get("sha"),
		EventName: f.Get("event_name"), RunnerEnvironment: f.Get("runner_environment"), Environment: f.Get("environment"),
		Visibility: f.Get("repository_visibility"), JobWorkflowRef: f.Get("job_workflow_ref"), RunID: f.Get("run_id"),
		RunAttempt: f.Get("run_attempt"), Actor: f.Get("actor"),
	}
}

func (h *Handler) githubToken(w http.ResponseWriter, r *http.Request) {
	if !h.parseForm(w, r) {
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		h.oauthError(w, &idp.Error{Code: "unsupported_grant_type", Description: fmt.Sprintf("grant_type %q: the workflow issuer takes client_credentials", gt), Status: http.StatusBadRequest})
		return
	}
	id, secret := clientAuth(r)
	tok, err := h.p.WorkflowCredentials(id, secret, r.PostForm.Get("audience"), workflowFromForm(r))
	if err != nil {
		h.oauthError(w, err)
		return
	}
	h.tokenAnswer(w, tok)
}

// registerRun takes a workflow (JSON) from a confidential client and answers
// the request URL and token a job uses as ACTIONS_ID_TOKEN_REQUEST_URL and
// ACTIONS_ID_TOKEN_REQUEST_TOKEN.
func (h *Handler) registerRun(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		h.oauthError(w, &idp.Error{Code: "invalid_client", Description: "registering a run needs client credentials (HTTP Basic)", Status: http.StatusUnauthorized})
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm))
	dec.DisallowUnknownFields()
	var wf idp.Workflow
	if err := dec.Decode(&wf); err != nil {
		h.oauthError(w, &idp.Error{Code: "invalid_request", Description: fmt.Sprintf("workflow JSON: %v", err), Status: http.StatusBadRequest})
		return
	}
	tok, err := h.p.RegisterRun(id, secret, wf)
	if err != nil {
		h.oauthError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{
		"request_url":   h.p.GitHubIssuer() + "/idtoken?api-version=2.0",
		"request_token": tok,
	})
}

// runToken is the Actions token-request endpoint: a job's bearer request
// token in, {"count":N,"value":JWT} out.
func (h *Handler) runToken(w http.ResponseWriter, r *http.Request) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || tok == "" {
		h.oauthError(w, &idp.Error{Code: "invalid_token", Description: "the request token goes in Authorization: Bearer", Status: http.StatusUnauthorized})
		return
	}
	aud := r.URL.Query().Get("audience")
	if aud == "" {
		aud = DefaultAudience
	}
	jwt, err := h.p.RunToken(tok, aud)
	if err != nil {
		h.oauthError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(jwt), "value": jwt})
}
