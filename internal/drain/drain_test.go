package drain

import (
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	var g Gate
	if g.Closing() || !g.Enter() || !g.Enter() {
		t.Fatal("an open gate refused work")
	}
	if n := g.InFlight(); n != 2 {
		t.Errorf("InFlight = %d, want 2", n)
	}
	idle := g.Close()
	if !g.Closing() || g.Enter() {
		t.Fatal("a closed gate let work in")
	}
	g.Leave()
	select {
	case <-idle:
		t.Fatal("idle with work in flight")
	case <-time.After(10 * time.Millisecond):
	}
	g.Leave()
	select {
	case <-idle:
	case <-time.After(time.Second):
		t.Fatal("not idle once the work is done")
	}
	if again := g.Close(); again != idle {
		t.Error("a second Close gave another channel")
	}

	var empty Gate
	select {
	case <-empty.Close():
	case <-time.After(time.Second):
		t.Fatal("closing an idle gate does not report idle")
	}
}
