package sqlite

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rebound-mail/rebound/store"
)

// crashChildEnv names the database a re-executed test binary saves into
// until it is killed.
const crashChildEnv = "REBOUND_SQLITE_CRASH_CHILD"

// TestCrashChild is the child of TestCrash: it saves messages from many
// goroutines and prints the tag of each Save that returned nil.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("run by TestCrash")
	}
	s, err := OpenStore(context.Background(), path, store.Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				tag := fmt.Sprintf("g%d-%d", g, i)
				if _, err := s.Save(context.Background(), testMessage(tag)); err != nil {
					continue
				}
				mu.Lock()
				fmt.Fprintln(out, tag)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// A process killed while saving loses no message it acknowledged.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	path := filepath.Join(t.TempDir(), "rebound.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that stops answering is killed, which ends the scan below.
	watchdog := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	const want = 200
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for len(acked) < want && sc.Scan() {
		acked[sc.Text()] = true
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < want {
		t.Fatalf("child acknowledged only %d saves", len(acked))
	}

	s := openTest(t, path, store.Options{})
	defer s.Close()
	recs, err := s.Records(context.Background(), store.Query{})
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, r := range recs {
		stored[r.Recipient] = true
	}
	for tag := range acked {
		if !stored[tag+"@example.org"] {
			t.Errorf("acknowledged save %s lost in the crash", tag)
		}
	}
	t.Logf("%d saves acknowledged, %d records stored", len(acked), len(recs))
}
