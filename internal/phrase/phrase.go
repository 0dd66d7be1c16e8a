// Package phrase finds every phrase of a fixed set in a text in one pass,
// ignoring ASCII case: an Aho-Corasick automaton compiled into a
// deterministic table. Bounce decoding and classification both ask "which
// of these phrases does this text contain"; one pass over the text answers
// for all of them at once instead of one substring search per phrase.
package phrase

import (
	"fmt"
	"math/bits"
	"slices"
)

// Matcher is a compiled phrase set. It is immutable after Compile, so one
// Matcher serves any number of goroutines.
type Matcher struct {
	class     [256]uint8 // byte → column; 0 is "no phrase uses this byte"
	space     [256]bool  // white space bytes, when runs of them are folded
	foldSpace bool
	columns   int
	// States are numbered breadth first. The first dense states, those
	// near the root that most bytes of a text lead to, have a full row
	// of transitions: dense[state*columns + column]. The others keep only
	// their edges in the trie and their failure link, so that the whole
	// automaton of a catalog's thousands of phrases stays small enough
	// for the processor's caches. A transition is the next state<<1, with
	// the low bit set when phrases end there, so that the scanner looks
	// outputs up only when there are some.
	dense     []uint16
	nDense    uint
	edgeStart []int32 // by state-nDense: edges[edgeStart[i]:edgeStart[i+1]]
	edges     []edge
	fail      []uint16 // by state-nDense: the failure link
	// out[outStart[s]:outStart[s+1]] are the phrases that end in state s,
	// including those reached through failure links.
	outStart []int32
	out      []int32
	lens     []int32 // phrase id → length in bytes
	maxLen   int
}

// MaxPhrases bounds a phrase set so that a match set fits in a fixed array
// on the stack.
const MaxPhrases = 64 * setWords

const setWords = 32

// edge is a transition of the trie.
type edge struct {
	column uint8
	next   uint16 // as in Matcher.dense
}

// denseBytes bounds the full rows of the states nearest the root.
const denseBytes = 32 << 10

// maxStates bounds the automaton's states so that one fits in 15 bits.
const maxStates = 1 << 15

// Set is the set of phrase ids found in one text. The zero Set is empty.
type Set [setWords]uint64

// Add puts id in the set.
func (p *Set) Add(id int32) { p[id>>6] |= 1 << (uint(id) & 63) }

// Has reports whether id is in the set.
func (p *Set) Has(id int32) bool { return p[id>>6]&(1<<(uint(id)&63)) != 0 }

// Empty reports whether the set holds no id.
func (p *Set) Empty() bool { return *p == Set{} }

// Next returns the smallest id in the set that is ≥ from, or -1.
func (p *Set) Next(from int32) int32 {
	for w := int(from >> 6); w < setWords; w++ {
		word := p[w]
		if w == int(from>>6) {
			word &^= 1<<(uint(from)&63) - 1
		}
		if word != 0 {
			return int32(w<<6 + bits.TrailingZeros64(word))
		}
	}
	return -1
}

// Options say how text is compared with the phrases.
type Options struct {
	// FoldSpace makes any run of white space in the text match any run of
	// white space in a phrase, so that folded server replies
	// ("550-5.7.1 ...\r\n550-5.7.1 ...") still match. Phrases must then
	// be in the form Normalize returns.
	FoldSpace bool
}

// lower maps ASCII upper case to lower case.
func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\f' || b == '\v'
}

// foldSpace maps a byte to its matching form under FoldSpace: ASCII upper
// case to lower case and every white space byte to a space.
func foldSpace(b byte) byte {
	if isSpace(b) {
		return ' '
	}
	return lower(b)
}

// Normalize folds a phrase the way the text is folded while matching with
// FoldSpace and collapses white space runs; it rejects phrases that would
// match everywhere or nowhere.
func Normalize(p string) (string, error) {
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := foldSpace(p[i])
		if c == ' ' && (len(b) == 0 || b[len(b)-1] == ' ') {
			continue
		}
		b = append(b, c)
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	if len(b) < 2 {
		return "", fmt.Errorf("phrase %q is too short to mean anything", p)
	}
	return string(b), nil
}

// Compile builds the automaton for phrases; phrase i reports id i. Bytes
// outside ASCII are compared as they are, which is enough for UTF-8
// phrases.
func Compile(phrases []string, opt Options) (*Matcher, error) {
	if len(phrases) > MaxPhrases {
		return nil, fmt.Errorf("%d phrases, at most %d are supported", len(phrases), MaxPhrases)
	}
	fold := lower
	if opt.FoldSpace {
		fold = foldSpace
	}
	m := &Matcher{foldSpace: opt.FoldSpace, lens: make([]int32, len(phrases))}
	for id, p := range phrases {
		if p == "" {
			return nil, fmt.Errorf("empty phrase")
		}
		if opt.FoldSpace {
			if n, err := Normalize(p); err != nil || n != p {
				return nil, fmt.Errorf("phrase %q is not normalized", p)
			}
		}
		m.lens[id] = int32(len(p))
		m.maxLen = max(m.maxLen, len(p))
	}
	// Byte classes: one column per distinct (folded) byte used by any
	// phrase.
	for _, p := range phrases {
		for i := 0; i < len(p); i++ {
			if c := fold(p[i]); m.class[c] == 0 {
				m.columns++
				if m.columns > 255 {
					return nil, fmt.Errorf("too many distinct bytes in phrases")
				}
				m.class[c] = uint8(m.columns)
			}
		}
	}
	m.columns++ // column 0: bytes no phrase uses
	// Fold the table so the scanner needs no separate folding step.
	for b := 0; b < 256; b++ {
		m.class[b] = m.class[fold(byte(b))]
		m.space[b] = opt.FoldSpace && isSpace(byte(b))
	}
	cols := m.columns

	// Trie.
	goTo := []int32{}
	newState := func() int32 {
		for i := 0; i < cols; i++ {
			goTo = append(goTo, -1)
		}
		return int32(len(goTo)/cols - 1)
	}
	newState()
	ends := [][]int32{nil}
	for id, p := range phrases {
		s := int32(0)
		for i := 0; i < len(p); i++ {
			c := int32(m.class[p[i]])
			if goTo[s*int32(cols)+c] < 0 {
				n := newState()
				ends = append(ends, nil)
				goTo[s*int32(cols)+c] = n
			}
			s = goTo[s*int32(cols)+c]
		}
		ends[s] = append(ends[s], int32(id))
	}
	states := len(goTo) / cols
	trie := slices.Clone(goTo)

	// Breadth-first: failure links, full transitions, inherited outputs.
	fail := make([]int32, states)
	order := make([]int32, 0, states)
	for c := 0; c < cols; c++ {
		if t := goTo[c]; t >= 0 {
			fail[t] = 0
			order = append(order, t)
		} else {
			goTo[c] = 0
		}
	}
	for i := 0; i < len(order); i++ {
		s := order[i]
		ends[s] = append(ends[s], ends[fail[s]]...)
		for c := 0; c < cols; c++ {
			t := goTo[int(s)*cols+c]
			if t >= 0 {
				fail[t] = goTo[int(fail[s])*cols+c]
				order = append(order, t)
			} else {
				goTo[int(s)*cols+c] = goTo[int(fail[s])*cols+c]
			}
		}
	}
	if states > maxStates {
		return nil, fmt.Errorf("phrases too many or too long: %d states, at most %d are supported", states, maxStates)
	}

	// Number the states breadth first: the root, then order.
	bfs := append([]int32{0}, order...)
	id := make([]int32, states) // old number → new
	for n, o := range bfs {
		id[o] = int32(n)
	}
	enc := func(o int32) uint16 {
		e := uint16(id[o]) << 1
		if len(ends[o]) > 0 {
			e |= 1
		}
		return e
	}
	m.nDense = uint(min(states, max(1, denseBytes/(2*cols))))
	m.dense = make([]uint16, int(m.nDense)*cols)
	m.outStart = make([]int32, states+1)
	for n, o := range bfs {
		m.outStart[n] = int32(len(m.out))
		m.out = append(m.out, ends[o]...)
		if uint(n) < m.nDense {
			for c := 0; c < cols; c++ {
				m.dense[n*cols+c] = enc(goTo[int(o)*cols+c])
			}
			continue
		}
		m.edgeStart = append(m.edgeStart, int32(len(m.edges)))
		m.fail = append(m.fail, uint16(id[fail[o]]))
		for c := 0; c < cols; c++ {
			if t := trie[int(o)*cols+c]; t >= 0 {
				m.edges = append(m.edges, edge{column: uint8(c), next: enc(t)})
			}
		}
	}
	m.outStart[states] = int32(len(m.out))
	m.edgeStart = append(m.edgeStart, int32(len(m.edges)))
	return m, nil
}

// MustCompile is Compile for phrase tables fixed in the program; it panics
// on an error, which is a programming mistake.
func MustCompile(phrases []string, opt Options) *Matcher {
	m, err := Compile(phrases, opt)
	if err != nil {
		panic("phrase: " + err.Error())
	}
	return m
}

// Match adds the id of every phrase found in text to set. It reads text
// once and allocates nothing.
func (m *Matcher) Match(text string, set *Set) { m.run(text, set) }

// Contains reports whether text contains any of the phrases.
func (m *Matcher) Contains(text string) bool { return m.run(text, nil) }

// run walks text through the automaton. With a set it adds every match to
// it; without one it stops at the first match. It reports whether there
// was a match.
func (m *Matcher) run(text string, set *Set) bool {
	cols, dense, nDense := uint(m.columns), m.dense, m.nDense
	s := uint(0)
	prevSpace := true
	found := false
	for i := 0; i < len(text); i++ {
		b := text[i]
		if m.space[b] {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		var e uint16
		if s < nDense {
			e = dense[s*cols+uint(m.class[b])]
		} else {
			e = m.step(s, m.class[b])
		}
		s = uint(e >> 1)
		if e&1 != 0 {
			if set == nil {
				return true
			}
			found = true
			for _, id := range m.out[m.outStart[s]:m.outStart[s+1]] {
				set.Add(id)
			}
		}
	}
	return found
}

// Index returns where the earliest-starting occurrence of any phrase
// begins in text, -1 when there is none. Matchers compiled with FoldSpace
// do not support it, as a match's length in the text is not the phrase's.
func (m *Matcher) Index(text string) int {
	if m.foldSpace {
		panic("phrase: Index on a matcher that folds white space")
	}
	cols, dense, nDense := uint(m.columns), m.dense, m.nDense
	s := uint(0)
	first := -1
	for i := 0; i < len(text); i++ {
		if first >= 0 && i+1-m.maxLen > first {
			// Every match still to come starts after first.
			break
		}
		var e uint16
		if c := m.class[text[i]]; s < nDense {
			e = dense[s*cols+uint(c)]
		} else {
			e = m.step(s, c)
		}
		s = uint(e >> 1)
		if e&1 == 0 {
			continue
		}
		for _, id := range m.out[m.outStart[s]:m.outStart[s+1]] {
			if start := i + 1 - int(m.lens[id]); first < 0 || start < first {
				first = start
			}
		}
	}
	return first
}

// step is the transition from a state s ≥ nDense on column c: the trie's
// edge if s has one, else the transition of its failure link.
func (m *Matcher) step(s uint, c uint8) uint16 {
	for s >= m.nDense {
		i := s - m.nDense
		for _, e := range m.edges[m.edgeStart[i]:m.edgeStart[i+1]] {
			if e.column == c {
				return e.next
			}
		}
		s = uint(m.fail[i])
	}
	return m.dense[s*uint(m.columns)+uint(c)]
}
