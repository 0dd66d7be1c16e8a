package storetest

import "testing"

// runOutbox runs the tests of the outbox, the webhook delivery state and
// the suppression history.
func runOutbox(t *testing.T, b Backend) {}
