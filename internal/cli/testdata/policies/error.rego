package signature

# Fails to evaluate (a predicate type is no number): an error, never an allow.
allow {
	to_number(input.predicateType) > 0
}
