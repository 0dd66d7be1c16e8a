package dsn

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-message"
)

// walkEntity reads msg with go-message, for the multipart messages the
// single-pass scan found nothing in (boundaries and parameters in forms
// it does not read, such as RFC 2231 continuations). It fills the scan
// as walk does; bodies arrive decoded, text in UTF-8. Limits apply as in
// walk; part headers are bounded by the message size, which Parse has
// checked.
func (s *scan) walkEntity(msg []byte) error {
	e, err := message.Read(bytes.NewReader(msg))
	if e == nil {
		return err
	}
	return s.entity(e, 0)
}

func (s *scan) entity(e *message.Entity, depth int) error {
	s.parts++
	if s.parts > s.lim.MaxParts {
		return ErrTooManyParts
	}
	if depth > s.lim.MaxDepth {
		return ErrTooDeep
	}
	mt, params, _ := e.Header.ContentType()
	mt = strings.ToLower(mt)
	if mr := e.MultipartReader(); mr != nil {
		if mt == "multipart/report" && s.reportType == "" {
			s.reportType = strings.ToLower(params["report-type"])
		}
		for {
			p, err := mr.NextPart()
			if err != nil && p == nil {
				// io.EOF, or a broken part: keep what was read.
				return nil
			}
			if err := s.entity(p, depth+1); err != nil {
				return err
			}
		}
	}
	body, err := io.ReadAll(io.LimitReader(e.Body, int64(s.lim.MaxMessageSize)))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		// A damaged encoding: use what decoded.
		err = nil
	}
	// The body is decoded: describe it by its media type alone.
	h := header{{name: []byte("Content-Type"), value: []byte(mt)}}
	if mt == "message/rfc822" || mt == "message/global" {
		// go-message does not decode message parts itself.
		h = append(h, field{name: []byte("Content-Transfer-Encoding"), value: []byte(e.Header.Get("Content-Transfer-Encoding"))})
	}
	return s.walk(h, body, depth)
}
