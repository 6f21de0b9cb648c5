package idp

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// deviceGrant is one RFC 8628 device authorization in progress.
type deviceGrant struct {
	client, userCode, scope string
	expires, lastPoll       time.Time
	interval                time.Duration
	decided, approved       bool
	identity                Identity
}

// DeviceAuthorization is the answer of the device authorization endpoint
// (RFC 8628 §3.2).
type DeviceAuthorization struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
}

const deviceTTL = 10 * time.Minute

// DevicePath is the provider's page where a user enters a device's code.
const DevicePath = "/device"

// StartDevice begins a device authorization for a client.
func (p *Provider) StartDevice(clientID, secret, scope string) (*DeviceAuthorization, error) {
	if _, err := p.authenticate(clientID, secret); err != nil {
		return nil, err
	}
	if scope != "" && !hasScope(scope, "openid") {
		return nil, &Error{Code: "invalid_scope", Description: "scope must include openid", Status: 400}
	}
	if len(scope) > maxParam {
		return nil, invalidRequest(fmt.Sprintf("scope is limited to %d bytes", maxParam))
	}
	d := &deviceGrant{client: clientID, userCode: userCode(), scope: scope, expires: p.now().Add(deviceTTL), interval: p.interval}
	code := randomID()
	p.mu.Lock()
	if err := p.room(len(p.devices)); err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.devices[code] = d
	p.users[d.userCode] = code
	p.mu.Unlock()
	verify := p.issuer + DevicePath
	return &DeviceAuthorization{
		DeviceCode: code, UserCode: d.userCode, VerificationURI: verify,
		VerificationURIComplete: verify + "?user_code=" + d.userCode,
		ExpiresIn:               int(deviceTTL / time.Second), Interval: int((p.interval + time.Second - 1) / time.Second),
	}, nil
}

// DecideDevice settles the device authorization a user code names.
func (p *Provider) DecideDevice(code, email string, approve bool) error {
	code = NormalizeUserCode(code)
	var id Identity
	if approve {
		var ok bool
		if id, ok = p.Identity(email); !ok {
			return invalidRequest(fmt.Sprintf("%q is not a configured identity", email))
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.devices[p.users[code]]
	if !ok || p.now().After(d.expires) || d.decided {
		return invalidRequest(fmt.Sprintf("code %q is unknown, used or expired", code))
	}
	d.decided, d.approved, d.identity = true, approve, id
	return nil
}

// PollDevice is the token endpoint's device_code grant: pending until the
// user decides, slow_down when polled faster than the interval.
func (p *Provider) PollDevice(clientID, secret, deviceCode string) (string, error) {
	c, err := p.authenticate(clientID, secret)
	if err != nil {
		return "", err
	}
	p.mu.Lock()
	d, ok := p.devices[deviceCode]
	now := p.now()
	switch {
	case !ok:
		p.mu.Unlock()
		return "", invalidGrant("unknown device_code")
	case d.client != c.ID:
		p.mu.Unlock()
		return "", invalidGrant("device_code was issued to another client")
	case now.After(d.expires):
		p.mu.Unlock()
		return "", &Error{Code: "expired_token", Description: "the device code expired; start again", Status: 400}
	case !d.decided:
		// A client that probes how to authenticate polls twice at once
		// (golang.org/x/oauth2 does): that is one poll, not too fast.
		since := now.Sub(d.lastPoll)
		tooSoon := !d.lastPoll.IsZero() && since < d.interval && since > 250*time.Millisecond
		d.lastPoll = now
		if tooSoon {
			d.interval += 5 * time.Second // RFC 8628 §3.5
			p.mu.Unlock()
			return "", &Error{Code: "slow_down", Description: "polling faster than the interval", Status: 400}
		}
		p.mu.Unlock()
		return "", &Error{Code: "authorization_pending", Description: "waiting for the user", Status: 400}
	}
	delete(p.devices, deviceCode)
	delete(p.users, d.userCode)
	p.mu.Unlock()
	if !d.approved {
		return "", &Error{Code: "access_denied", Description: "the user declined", Status: 400}
	}
	return p.EmailToken(d.identity, c.ID, "")
}

// userCode is eight letters from an alphabet without vowels or look-alikes
// (RFC 8628 §6.1), shown as XXXX-XXXX.
func userCode() string {
	const alphabet = "BCDFGHJKLMNPQRSTVWXZ"
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:4]) + "-" + string(b[4:])
}

// NormalizeUserCode reads a user code as typed: case and dashes ignored.
func NormalizeUserCode(s string) string {
	s = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(s))
	if len(s) == 8 {
		return s[:4] + "-" + s[4:]
	}
	return s
}
