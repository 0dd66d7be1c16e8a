package sqlstore

// SuppressionCountsQuery counts the suppressions in force at its one
// parameter (UnixNano) by cause; the partial index on suppressed
// addresses keeps it to the suppressed rows.
func SuppressionCountsQuery(p Placeholders) string {
	return `SELECT cause, count(*) FROM addresses
		WHERE suppressed AND (expires = 0 OR expires > ` + p.Param(1) + `) GROUP BY cause`
}

// CollectCounts reads rows of (key, count) into a map.
func CollectCounts(rows Rows) (map[string]int64, error) {
	counts := map[string]int64{}
	for rows.Next() {
		var key string
		var n int64
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		counts[key] = n
	}
	return counts, rows.Err()
}
