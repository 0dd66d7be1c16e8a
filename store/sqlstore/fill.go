package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/rebound-mail/rebound/record"
	"github.com/rebound-mail/rebound/store"
	"github.com/rebound-mail/rebound/suppress"
)

// OverviewVersion is the schema version that gains the rollups and the
// incidents' recipients; ApplyNext fills them from the records already
// stored in the transaction of that step, so that a database upgraded
// reads the same overview as one written by this program.
const OverviewVersion = 8

// FillTx is what filling the rollups needs of a migration's transaction.
type FillTx interface {
	MigrationTx
	// Query runs a query; release frees its rows once read.
	Query(ctx context.Context, query string, args ...any) (rows Rows, release func(), err error)
	// Indexed makes a value what the backend keeps in an indexed column
	// (see Cleaning).
	Indexed(s string) string
}

// fillChunk is how many records one read of the fill takes.
const fillChunk = 10000

// maxFillRows bounds the rollup rows held in memory before they are
// written.
const maxFillRows = 200000

// fillOverview counts the stored records into the rollups and the
// recipients of their incidents.
func fillOverview(ctx context.Context, tx MigrationTx, p Placeholders) error {
	ftx, ok := tx.(FillTx)
	if !ok {
		return fmt.Errorf("filling the rollups: the migration cannot read")
	}
	type block struct {
		domain, code, address string
		t                     int64
	}
	var blocks []block
	roll := Rollups{}
	var after int64
	for {
		rows, release, err := ftx.Query(ctx, `SELECT id, `+RollupRecordColumns+` FROM records WHERE id > `+p.Param(1)+
			` ORDER BY id LIMIT `+p.Param(2), after, fillChunk)
		if err != nil {
			return fmt.Errorf("filling the rollups: %w", err)
		}
		n := 0
		for rows.Next() {
			var id, t int64
			var r record.Record
			var domain, address string
			if err := rows.Scan(&id, &t, &r.Class, &r.Reason, &domain, &r.RemoteMTA, &r.Recipient,
				&r.Status, &r.SMTPCode, &address); err != nil {
				release()
				return fmt.Errorf("filling the rollups: %w", err)
			}
			n++
			after = id
			roll.Add(t, r.Class, r.Reason, domain, store.OverviewProvider(&r))
			if d, c, ok := suppress.IncidentKey(&r); ok && address != "" {
				blocks = append(blocks, block{ftx.Indexed(d), ftx.Indexed(c), address, t})
			}
		}
		err = rows.Err()
		release()
		if err != nil {
			return fmt.Errorf("filling the rollups: %w", err)
		}
		if len(roll) >= maxFillRows || n < fillChunk {
			if err := writeRollups(ctx, ftx, p, roll, 0); err != nil {
				return err
			}
			roll = Rollups{}
		}
		if n < fillChunk {
			break
		}
	}
	if len(blocks) == 0 {
		return nil
	}
	// Each block joins the incident of its key whose span holds it, the
	// latest when spans overlap, as it did when it was counted.
	type span struct{ id, first, last int64 }
	incs := map[[2]string][]span{}
	rows, release, err := ftx.Query(ctx, `SELECT id, domain, code, first_seen, last_seen FROM incidents`)
	if err != nil {
		return fmt.Errorf("filling the incidents' recipients: %w", err)
	}
	for rows.Next() {
		var sp span
		var d, c string
		if err := rows.Scan(&sp.id, &d, &c, &sp.first, &sp.last); err != nil {
			release()
			return fmt.Errorf("filling the incidents' recipients: %w", err)
		}
		incs[[2]string{d, c}] = append(incs[[2]string{d, c}], sp)
	}
	err = rows.Err()
	release()
	if err != nil {
		return fmt.Errorf("filling the incidents' recipients: %w", err)
	}
	type pair struct {
		id      int64
		address string
	}
	seen := map[pair]bool{}
	var pairs []pair
	for _, b := range blocks {
		var best *span
		for i, sp := range incs[[2]string{b.domain, b.code}] {
			if sp.first <= b.t && b.t <= sp.last && (best == nil || sp.last > best.last || sp.last == best.last && sp.id > best.id) {
				best = &incs[[2]string{b.domain, b.code}][i]
			}
		}
		if best == nil {
			continue
		}
		if pr := (pair{best.id, b.address}); !seen[pr] {
			seen[pr] = true
			pairs = append(pairs, pr)
		}
	}
	const chunk = 500
	for i := 0; i < len(pairs); i += chunk {
		part := pairs[i:min(i+chunk, len(pairs))]
		var b strings.Builder
		args := make([]any, 0, 2*len(part))
		for j, pr := range part {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "(%s, %s)", p.Param(2*j+1), p.Param(2*j+2))
			args = append(args, pr.id, pr.address)
		}
		if err := ftx.Exec(ctx, `INSERT INTO incident_recipients (incident_id, address) VALUES `+b.String()+
			` ON CONFLICT (incident_id, address) DO NOTHING`, args...); err != nil {
			return fmt.Errorf("filling the incidents' recipients: %w", err)
		}
	}
	return nil
}

// writeRollups adds the counts of roll to the rollup tables, in shard, in
// statements of many rows.
func writeRollups(ctx context.Context, tx MigrationTx, p Placeholders, roll Rollups, shard int) error {
	keys := roll.Sorted()
	const chunk = 500
	for i := 0; i < len(keys); {
		daily := keys[i].Daily
		j := i
		for j < len(keys) && j-i < chunk && keys[j].Daily == daily {
			j++
		}
		query, args := UpsertRollups(p, daily, keys[i:j], roll, shard)
		if err := tx.Exec(ctx, query, args...); err != nil {
			return fmt.Errorf("filling the rollups: %w", err)
		}
		i = j
	}
	return nil
}

// UpsertRollups is the statement adding the counts of keys (all of one
// table) to their rows in shard.
func UpsertRollups(p Placeholders, daily bool, keys []RollupKey, roll Rollups, shard int) (string, []any) {
	table, unit := RollupTable(daily)
	var b strings.Builder
	b.WriteString(`INSERT INTO ` + table + ` (dim, ` + unit + `, key, class, shard, count) VALUES `)
	args := make([]any, 0, 6*len(keys))
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		n := 6 * i
		fmt.Fprintf(&b, "(%s, %s, %s, %s, %s, %s)", p.Param(n+1), p.Param(n+2), p.Param(n+3), p.Param(n+4), p.Param(n+5), p.Param(n+6))
		args = append(args, k.Dim, k.Unit, k.Key, k.Class, shard, roll[k])
	}
	b.WriteString(` ON CONFLICT (dim, key, ` + unit + `, class, shard) DO UPDATE SET count = ` + table + `.count + excluded.count`)
	return b.String(), args
}
