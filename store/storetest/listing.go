package storetest

import "testing"

// runListings runs the tests of the paged listings, the batch check, the
// statistics and readiness.
func runListings(t *testing.T, b Backend) {}
