package tlog

import "errors"

// One sentinel per kind of evidence, for errors.Is.
var (
	ErrSET         = errors.New("signed entry timestamp invalid")
	ErrCheckpoint  = errors.New("checkpoint invalid")
	ErrInclusion   = errors.New("inclusion proof invalid")
	ErrConsistency = errors.New("consistency proof invalid")
	ErrEntry       = errors.New("log entry does not match")
)
