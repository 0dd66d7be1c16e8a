package classify

import (
	"fmt"
	"math/bits"
)

// matcher finds every phrase of a fixed set in a text in one pass: an
// Aho-Corasick automaton compiled into a deterministic table. Matching is
// case-insensitive for ASCII letters, and any run of white space in the text
// matches any run of white space in a phrase, so folded server replies
// ("550-5.7.1 ...\r\n550-5.7.1 ...") still match. Bytes outside ASCII are
// compared as they are, which is enough for UTF-8 phrases.
//
// The table is immutable after compile, so one matcher serves any number of
// goroutines.
type matcher struct {
	class   [256]uint8 // byte → column; 0 is "no phrase uses this byte"
	columns int
	next    []int32 // state*columns + column → state
	// out[outStart[s]:outStart[s+1]] are the phrases that end in state s,
	// including those reached through failure links.
	outStart []int32
	out      []int32
}

// maxPhrases bounds the phrase set so that a match set fits in a fixed array
// on the stack.
const maxPhrases = 64 * phraseWords

const phraseWords = 16

// phraseSet is the set of phrase ids found in one text.
type phraseSet [phraseWords]uint64

func (p *phraseSet) add(id int32)      { p[id>>6] |= 1 << (uint(id) & 63) }
func (p *phraseSet) has(id int32) bool { return p[id>>6]&(1<<(uint(id)&63)) != 0 }

// next returns the smallest id in the set that is ≥ from, or -1.
func (p *phraseSet) next(from int32) int32 {
	for w := int(from >> 6); w < phraseWords; w++ {
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

// fold maps a byte to its matching form: ASCII upper case to lower case and
// every white space byte to a space.
func fold(b byte) byte {
	switch {
	case 'A' <= b && b <= 'Z':
		return b + 'a' - 'A'
	case b == '\t' || b == '\r' || b == '\n' || b == '\f' || b == '\v':
		return ' '
	}
	return b
}

// normalizePhrase folds a phrase the way the text is folded while matching
// and collapses white space runs; it rejects phrases that would match
// everywhere or nowhere.
func normalizePhrase(p string) (string, error) {
	b := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		c := fold(p[i])
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

// compileMatcher builds the automaton for phrases, which must already be
// normalized; phrase i reports id i.
func compileMatcher(phrases []string) (*matcher, error) {
	if len(phrases) > maxPhrases {
		return nil, fmt.Errorf("%d phrases, at most %d are supported", len(phrases), maxPhrases)
	}
	m := &matcher{}
	// Byte classes: one column per distinct byte used by any phrase.
	for _, p := range phrases {
		for i := 0; i < len(p); i++ {
			if m.class[p[i]] == 0 {
				m.columns++
				if m.columns > 255 {
					return nil, fmt.Errorf("too many distinct bytes in phrases")
				}
				m.class[p[i]] = uint8(m.columns)
			}
		}
	}
	m.columns++ // column 0: bytes no phrase uses
	// Fold the table so the scanner needs no separate folding step.
	for b := 0; b < 256; b++ {
		m.class[b] = m.class[fold(byte(b))]
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
	m.next = goTo
	m.outStart = make([]int32, states+1)
	for s := 0; s < states; s++ {
		m.outStart[s] = int32(len(m.out))
		m.out = append(m.out, ends[s]...)
	}
	m.outStart[states] = int32(len(m.out))
	return m, nil
}

// match adds the id of every phrase found in text to set. It reads text
// once and allocates nothing.
func (m *matcher) match(text string, set *phraseSet) {
	cols := int32(m.columns)
	space := m.class[' ']
	s := int32(0)
	prevSpace := true
	for i := 0; i < len(text); i++ {
		c := m.class[text[i]]
		isSpace := fold(text[i]) == ' '
		if isSpace {
			if prevSpace {
				continue
			}
			c = space
		}
		prevSpace = isSpace
		s = m.next[s*cols+int32(c)]
		for _, id := range m.out[m.outStart[s]:m.outStart[s+1]] {
			set.add(id)
		}
	}
}
