package dsn

import (
	"bytes"
	"strings"
)

// A part is one leaf MIME part the decoder may need, still transfer
// encoded; it is decoded only when it is read.
type part struct {
	hdr  header
	body []byte
}

// decoded returns the body with its transfer encoding undone.
func (p *part) decoded() []byte {
	return decodeTransfer(p.hdr.get("Content-Transfer-Encoding"), p.body)
}

// text returns the body decoded to UTF-8.
func (p *part) text() []byte {
	return toUTF8(param(p.hdr.get("Content-Type"), "charset"), p.decoded())
}

// A scan is one single pass over the MIME structure of a message (RFC 2045,
// RFC 2046). It finds the parts a bounce is read from without decoding the
// others: the delivery-status or feedback-report part, the human-readable
// text and the headers of the attached original.
type scan struct {
	lim   Limits
	parts int

	reportType string // report-type of the outermost multipart/report
	status     part   // message/delivery-status or message/global-delivery-status
	hasStatus  bool
	global     bool // the status part is message/global-delivery-status (RFC 6533)
	feedback   part // message/feedback-report
	hasFeed    bool
	original   header // header of the attached original message
	origRaw    []byte // the attached original, decoded, for Original.Raw
	hasOrig    bool
	message    part // the attached original when it is a whole message, for forward.go
	hasMessage bool
	broken     bool   // a multipart without a boundary line was read as text
	texts      []part // text/plain parts outside the original
	htmls      []part // text/html parts outside the original

	// slab is backing store for the fields of part headers: each header
	// takes the next free stretch, so most messages allocate it once.
	slab []field
}

// walk visits the entity with header h and body body at nesting depth.
func (s *scan) walk(h header, body []byte, depth int) error {
	s.parts++
	if s.parts > s.lim.MaxParts {
		return ErrTooManyParts
	}
	if depth > s.lim.MaxDepth {
		return ErrTooDeep
	}
	ct := h.get("Content-Type")
	mt := mediaType(ct)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if mt == "multipart/report" && s.reportType == "" {
			s.reportType = strings.ToLower(param(ct, "report-type"))
		}
		boundary := []byte(param(ct, "boundary"))
		if len(boundary) == 0 || indexDelimiter(body, boundary) < 0 {
			// A broken multipart: the boundary parameter is missing or
			// names a line that never comes. Take the first line that
			// looks like a delimiter.
			boundary = guessBoundary(body)
		}
		if len(boundary) == 0 {
			s.broken = true
			s.addText(h, body)
			return nil
		}
		return forEachPart(body, boundary, func(p []byte) error {
			ph, pb, err := readHeader(p, s.lim.MaxHeaderSize, s.fieldSlab())
			if err != nil {
				return err
			}
			s.keepFields(ph)
			return s.walk(ph, pb, depth+1)
		})
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		if !s.hasStatus {
			s.status, s.hasStatus = part{hdr: h, body: body}, true
			s.global = mt == "message/global-delivery-status"
		}
	case mt == "message/feedback-report":
		if !s.hasFeed {
			s.feedback, s.hasFeed = part{hdr: h, body: body}, true
		}
	case mt == "message/rfc822" || mt == "message/global" ||
		mt == "text/rfc822-headers" || mt == "text/rfc822-header" || mt == "message/global-headers" || mt == "message/rfc822-headers":
		if !s.hasOrig {
			p := part{hdr: h, body: body}
			// The header of the original is evidence, not structure: past
			// the limit, what was read is enough.
			raw := p.decoded()
			oh, _, _ := readHeader(raw, s.lim.MaxHeaderSize, s.fieldSlab())
			s.keepFields(oh)
			s.original, s.origRaw, s.hasOrig = oh, raw, true
			if mt == "message/rfc822" || mt == "message/global" {
				s.message, s.hasMessage = p, true
			}
		}
	case mt == "" || mt == "text/plain" || mt == "text":
		s.addText(h, body)
	case mt == "text/html":
		s.htmls = append(s.htmls, part{hdr: h, body: body})
	}
	return nil
}

// fieldSlab returns an empty header whose capacity is the free end of
// the slab, for readHeader to append to.
func (s *scan) fieldSlab() header {
	if cap(s.slab)-len(s.slab) < 8 {
		s.slab = make([]field, 0, 32)
	}
	return s.slab[len(s.slab):len(s.slab)]
}

// keepFields marks the fields of h as used when readHeader appended them
// in the slab (it allocates elsewhere when they do not fit).
func (s *scan) keepFields(h header) {
	n := len(s.slab)
	if len(h) > 0 && n < cap(s.slab) && &h[0] == &s.slab[:n+1][n] {
		s.slab = s.slab[:n+len(h)]
	}
}

// empty reports whether the scan found no part a bounce is read from.
func (s *scan) empty() bool {
	return !s.hasStatus && !s.hasFeed && !s.hasOrig && len(s.texts) == 0 && len(s.htmls) == 0
}

func (s *scan) addText(h header, body []byte) {
	s.texts = append(s.texts, part{hdr: h, body: body})
}

// forEachPart calls fn with the content of every body part of a multipart
// body (RFC 2046 section 5.1.1): the bytes between delimiter lines, the
// line break before a delimiter belonging to the delimiter. A missing
// close delimiter ends the last part at the end of the body.
func forEachPart(body []byte, boundary []byte, fn func([]byte) error) error {
	start := -1 // start of the current part's content
	pos := 0
	for pos < len(body) {
		i := indexDelimiter(body[pos:], boundary)
		if i < 0 {
			break
		}
		at := pos + i // start of the delimiter line
		after := at + 2 + len(boundary)
		closing := after+1 < len(body) && body[after] == '-' && body[after+1] == '-'
		// The rest of the delimiter line: transport padding.
		eol := bytes.IndexByte(body[after:], '\n')
		next := len(body)
		if eol >= 0 {
			next = after + eol + 1
		}
		if start >= 0 {
			end := at
			if end > start && body[end-1] == '\n' {
				end--
				if end > start && body[end-1] == '\r' {
					end--
				}
			}
			if err := fn(body[start:end]); err != nil {
				return err
			}
		}
		if closing {
			return nil
		}
		start = next
		pos = next
	}
	if start >= 0 && start < len(body) {
		return fn(body[start:])
	}
	return nil
}

// indexDelimiter returns the offset of the first delimiter line of
// boundary in b, or -1. A delimiter line starts a line with "--" and the
// boundary, followed by "--", white space or the line end; a longer
// boundary that merely starts with this one does not count.
func indexDelimiter(b []byte, boundary []byte) int {
	off := 0
	for {
		i := bytes.Index(b[off:], boundary)
		if i < 0 {
			return -1
		}
		at := off + i - 2
		if at >= 0 && b[at] == '-' && b[at+1] == '-' && (at == 0 || b[at-1] == '\n' || b[at-1] == '\r') {
			rest := b[off+i+len(boundary):]
			if len(rest) == 0 || rest[0] == '-' || isSpace(rest[0]) {
				return at
			}
		}
		off += i + 1
	}
}

// guessBoundary returns the boundary of the first line of body that looks
// like a delimiter ("--" and at least a few non-space characters), or nil.
func guessBoundary(body []byte) []byte {
	for pos := 0; pos < len(body); {
		end := bytes.IndexByte(body[pos:], '\n')
		line := body[pos:]
		if end >= 0 {
			line = body[pos : pos+end]
			pos += end + 1
		} else {
			pos = len(body)
		}
		line = bytes.TrimRight(line, " \t\r")
		if len(line) >= 8 && line[0] == '-' && line[1] == '-' && bytes.IndexAny(line, " \t") < 0 &&
			len(bytes.Trim(line, "-")) > 0 {
			b := line[2:]
			if bytes.HasSuffix(b, []byte("--")) {
				continue
			}
			return b
		}
	}
	return nil
}
