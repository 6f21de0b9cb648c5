package oci

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotFound is wrapped when a manifest or tag does not exist.
var ErrNotFound = errors.New("not found")

// RegistryError is a registry that failed, throttled or refused access:
// anything other than a clean answer. Status is the HTTP status (0 when the
// registry could not be reached at all).
type RegistryError struct {
	Registry string
	Op       string
	Status   int
	Err      error
}

func (e *RegistryError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("registry %s unreachable while %s: %v", e.Registry, e.Op, e.Err)
	}
	return fmt.Sprintf("registry %s answered %d %s while %s: %v", e.Registry, e.Status, http.StatusText(e.Status), e.Op, e.Err)
}

func (e *RegistryError) Unwrap() error { return e.Err }

// classify turns a go-containerregistry error into ErrNotFound (wrapped) or a
// *RegistryError.
func classify(registry, op string, err error) error {
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		if terr.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s: %w", op, ErrNotFound)
		}
		return &RegistryError{Registry: registry, Op: op, Status: terr.StatusCode, Err: err}
	}
	return &RegistryError{Registry: registry, Op: op, Err: err}
}
