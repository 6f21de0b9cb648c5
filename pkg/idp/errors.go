package idp

// Error is an OAuth 2.0 error answer (RFC 6749 §5.2, RFC 8628 §3.5).
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	Status      int    `json:"-"` // HTTP status: 400 unless said
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func invalidRequest(desc string) *Error {
	return &Error{Code: "invalid_request", Description: desc, Status: 400}
}
func invalidGrant(desc string) *Error {
	return &Error{Code: "invalid_grant", Description: desc, Status: 400}
}
