package sqlstore

// FairBatches is the batching of a group-commit writer that one large
// write cannot hold up: a message with a thousand records, or megabytes of
// raw bytes, takes far longer to write than the ordinary bounce of one
// record, and every message committed in the same transaction waits for
// it. Large jobs are therefore committed in transactions of their own, in
// turn with batches of the small ones: a small job waits for at most one
// large one, and a large one for at most one batch of small ones.
type FairBatches[J any] struct {
	// Weight is the work of a job, in records (see JobWeight).
	Weight func(J) int
	// Large is the weight from which a job is committed alone.
	Large int
	// MaxJobs and MaxWeight bound a batch of small jobs.
	MaxJobs, MaxWeight int
	// Handoff, when set, takes the large jobs to a writer of their own,
	// when it has room: the small ones then wait for none.
	Handoff chan<- J
}

// Weights of FairBatches for the SQL backends: a record costs one, and
// raw bytes one per rawWeightBytes of their compressed size.
const (
	LargeWeight    = 256
	MaxBatchWeight = 4 * LargeWeight
	rawWeightBytes = 16 << 10
)

// JobWeight is the weight of saving a prepared message: its records, and
// its compressed raw bytes.
func JobWeight(p *Prepared) int {
	return len(p.Records) + len(p.Raw)/rawWeightBytes
}

// Run takes jobs from in and calls commit with one batch at a time, until
// in is closed and every job taken was committed. commit gets a batch of
// small jobs in arrival order, or one large job.
func (f FairBatches[J]) Run(in <-chan J, commit func([]J)) {
	var small, large []J
	open := true
	add := func(j J) {
		if f.Weight(j) < f.Large {
			small = append(small, j)
			return
		}
		if f.Handoff != nil {
			select {
			case f.Handoff <- j:
				return
			default:
			}
		}
		large = append(large, j)
	}
	for {
		if len(small) == 0 && len(large) == 0 {
			if !open {
				return
			}
			j, ok := <-in
			if !ok {
				return
			}
			add(j)
		}
		// Take what queued while the last batch committed.
	drain:
		for n := 0; open && n < f.MaxJobs; n++ {
			select {
			case j, ok := <-in:
				if !ok {
					open = false
					break drain
				}
				add(j)
			default:
				break drain
			}
		}
		if len(small) > 0 {
			n, w := 0, 0
			for n < len(small) && n < f.MaxJobs && (n == 0 || w+f.Weight(small[n]) <= f.MaxWeight) {
				w += f.Weight(small[n])
				n++
			}
			commit(small[:n:n])
			small = shift(small, n)
		}
		if len(large) > 0 {
			commit(large[:1:1])
			large = shift(large, 1)
		}
	}
}

// shift drops the first n jobs of q, letting the queue's array be reused
// once it is empty.
func shift[J any](q []J, n int) []J {
	var zero J
	for i := range n {
		q[i] = zero
	}
	if n == len(q) {
		return q[:0]
	}
	return q[n:]
}
