package sqlstore

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// A testJob is named by its kind and number: "s1" small, "L1" large.
type testJob struct {
	name   string
	weight int
	// arrive are queued while the job's batch commits.
	arrive []testJob
}

func small(n, w int, arrive ...testJob) testJob {
	return testJob{fmt.Sprintf("s%d", n), w, arrive}
}

func large(n int, arrive ...testJob) testJob {
	return testJob{fmt.Sprintf("L%d", n), 1000, arrive}
}

// TestFairBatches checks the order in which batches are committed: large
// jobs alone, taking turns with the small ones that queued meanwhile.
func TestFairBatches(t *testing.T) {
	cases := []struct {
		name               string
		maxJobs, maxWeight int
		queued             []testJob
		want               []string
	}{
		{"small together, large alone after them", 10, 100,
			[]testJob{small(1, 1), large(1), small(2, 1), small(3, 1), large(2), small(4, 1)},
			[]string{"s1 s2 s3 s4", "L1", "L2"}},
		{"small that arrive during a large one go before the next large", 10, 100,
			[]testJob{small(1, 1), large(1, small(3, 1), small(4, 1)), large(2), small(2, 1)},
			[]string{"s1 s2", "L1", "s3 s4", "L2"}},
		{"a batch of small jobs is bounded by weight", 10, 25,
			[]testJob{small(1, 10), small(2, 10), small(3, 10), small(4, 10), small(5, 30)},
			[]string{"s1 s2", "s3 s4", "s5"}},
		{"a batch of small jobs is bounded by count", 2, 100,
			[]testJob{small(1, 1), small(2, 1), small(3, 1)},
			[]string{"s1 s2", "s3"}},
		{"large jobs only", 10, 100,
			[]testJob{large(1), large(2, large(3))},
			[]string{"L1", "L2", "L3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := make(chan testJob, 100)
			for _, j := range c.queued {
				in <- j
			}
			committed := 0
			total := len(c.queued)
			for _, j := range c.queued {
				total += len(j.arrive)
			}
			var got []string
			f := FairBatches[testJob]{
				Weight:  func(j testJob) int { return j.weight },
				Large:   100,
				MaxJobs: c.maxJobs, MaxWeight: c.maxWeight,
			}
			f.Run(in, func(batch []testJob) {
				var names []string
				for _, j := range batch {
					names = append(names, j.name)
					for _, a := range j.arrive {
						in <- a
					}
				}
				got = append(got, strings.Join(names, " "))
				if committed += len(batch); committed == total {
					close(in)
				}
			})
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("batches %q, want %q", got, c.want)
			}
		})
	}
}

// TestFairBatchesHandoff checks that large jobs go to the bulk writer
// while it has room, and are committed alone when it has none.
func TestFairBatchesHandoff(t *testing.T) {
	in := make(chan testJob, 10)
	bulk := make(chan testJob, 1)
	for _, j := range []testJob{small(1, 1), large(1), large(2), small(2, 1)} {
		in <- j
	}
	close(in)
	var got []string
	f := FairBatches[testJob]{Weight: func(j testJob) int { return j.weight }, Large: 100, MaxJobs: 10, MaxWeight: 100, Handoff: bulk}
	f.Run(in, func(batch []testJob) {
		var names []string
		for _, j := range batch {
			names = append(names, j.name)
		}
		got = append(got, strings.Join(names, " "))
	})
	if want := []string{"s1 s2", "L2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("batches %q, want %q", got, want)
	}
	if len(bulk) != 1 || (<-bulk).name != "L1" {
		t.Errorf("L1 not handed off")
	}
}
