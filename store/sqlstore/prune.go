package sqlstore

import "github.com/rebound-mail/rebound/store"

// PruneChunk bounds the messages one transaction of PruneRaw or
// PruneRecords changes, so that saves go on between the transactions.
const PruneChunk = 1000

// PrunedRaw is what a message whose raw bytes were pruned keeps in place
// of them: the compressed form of no bytes, with a raw size of 0, so that
// reading the message gives an empty Raw.
var PrunedRaw = Compress(nil)

// PruneCandidates is the condition, on messages aliased m, of the messages
// retention may change or delete: none of their records is evidence of a
// suppression state that can still act, evidenceKeys being a subquery of
// those record keys, and they are not waiting in the relay queue (which
// needs their bytes). The caller adds the age bound.
func PruneCandidates(evidenceKeys string) string {
	return `NOT EXISTS (SELECT 1 FROM records r WHERE r.message_id = m.id AND r.key IN (` + evidenceKeys + `))
		AND NOT EXISTS (SELECT 1 FROM relay_queue q WHERE q.message_id = m.id AND q.state = '` + store.RelayQueued + `')`
}

// KeptStates is the condition, on addresses aliased a, of the suppression
// states whose evidence retention keeps: suppressions in force at the time
// of the placeholder now (UnixNano), and the soft bounces counted toward
// one (a state not suppressed keeps those as its evidence).
func KeptStates(now string) string {
	return `(NOT a.suppressed OR a.expires = 0 OR a.expires > ` + now + `)`
}
