package oidc

import (
	"errors"
	"html/template"
	"net/http"
	"sync"

	"hallmark.dev/hallmark/pkg/idp"
)

// pages are parsed when first served, not in every hallmark process's init.
var pages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Parse(pagesText))
})

const pagesText = `
{{define "head"}}<!doctype html><html><head><meta charset="utf-8"><title>Hallmark sign-in</title>
<style>body{font-family:sans-serif;max-width:32em;margin:3em auto}label{display:block;margin:.4em 0}button{margin-right:1em}</style>
</head><body><h1>Hallmark sign-in</h1>{{end}}
{{define "identities"}}{{range $i, $id := .Identities}}<label><input type="radio" name="email" value="{{$id.Email}}"{{if eq $i 0}} checked{{end}}> {{$id.Email}}{{if $id.Name}} ({{$id.Name}}){{end}}</label>{{end}}{{end}}
{{define "consent"}}{{template "head"}}
<p><b>{{.Client}}</b> asks for your identity, to be sent to <code>{{.Redirect}}</code>. Sign in as:</p>
<form method="post" action="auth"><input type="hidden" name="request" value="{{.Request}}">
{{template "identities" .}}
<p><button name="action" value="approve">Approve</button><button name="action" value="deny">Deny</button></p></form></body></html>{{end}}
{{define "device"}}{{template "head"}}
<p>Enter the code your device shows, and choose who to sign in as.</p>
<form method="post" action="device"><label>Code <input name="user_code" value="{{.UserCode}}" autocomplete="off"></label>
{{template "identities" .}}
<p><button name="action" value="approve">Approve</button><button name="action" value="deny">Deny</button></p></form></body></html>{{end}}
{{define "message"}}{{template "head"}}<p>{{.}}</p></body></html>{{end}}
`

func (h *Handler) page(w http.ResponseWriter, code int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "DENY")
	// No form-action: Chrome and Safari apply it to the redirect that follows
	// the consent form, to the client's loopback listener.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.WriteHeader(code)
	_ = pages().ExecuteTemplate(w, name, data)
}

func (h *Handler) pageError(w http.ResponseWriter, err error) {
	var e *idp.Error
	if errors.As(err, &e) {
		h.page(w, e.Status, "message", e.Description)
		return
	}
	h.log.Error("identity provider failed", "err", err)
	h.page(w, http.StatusInternalServerError, "message", err.Error())
}

func (h *Handler) authPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id, err := h.p.Authorize(idp.AuthorizeParams{
		ResponseType: q.Get("response_type"), ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"),
		Scope: q.Get("scope"), State: q.Get("state"), Nonce: q.Get("nonce"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
	})
	if err != nil {
		h.pageError(w, err)
		return
	}
	h.page(w, http.StatusOK, "consent", map[string]any{
		"Client": q.Get("client_id"), "Redirect": q.Get("redirect_uri"), "Request": id, "Identities": h.p.Identities(),
	})
}

func (h *Handler) authDecide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, "message", "reading the form: "+err.Error())
		return
	}
	to, err := h.p.Decide(r.PostForm.Get("request"), r.PostForm.Get("email"), r.PostForm.Get("action") == "approve")
	if err != nil {
		h.pageError(w, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (h *Handler) devicePage(w http.ResponseWriter, r *http.Request) {
	h.page(w, http.StatusOK, "device", map[string]any{"UserCode": r.URL.Query().Get("user_code"), "Identities": h.p.Identities()})
}

func (h *Handler) deviceDecide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		h.page(w, http.StatusBadRequest, "message", "reading the form: "+err.Error())
		return
	}
	approve := r.PostForm.Get("action") == "approve"
	if err := h.p.DecideDevice(r.PostForm.Get("user_code"), r.PostForm.Get("email"), approve); err != nil {
		h.pageError(w, err)
		return
	}
	msg := "Signed in. You can close this page and return to your device."
	if !approve {
		msg = "Declined. Your device will be told."
	}
	h.page(w, http.StatusOK, "message", msg)
}
