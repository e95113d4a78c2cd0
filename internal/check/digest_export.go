package check

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"hash"
	"io"
	"net/netip"
)

// This file is keepalived 2.2.7's HTTP_GET/SSL_GET response digest exactly
// as its checker and genhash compute it (check_http.c
// http_process_response, http_read_thread, ssl_read_thread; lib/html.c),
// for `lvsd genhash` and for any checker that must agree with it byte for
// byte: the MD5 of the bytes that follow the first CRLFCRLF as they arrive
// on the wire (a chunked transfer coding is hashed with its chunk framing,
// as keepalived hashes it), stopped after Content-Length bytes when the
// response names one.

// getBufferLength and maxBufferLength are keepalived's GET_BUFFER_LENGTH and
// MAX_BUFFER_LENGTH (check_http.h): the request is formatted into 2048 bytes
// (snprintf keeps 2047) and a response is read into 4096 (4095 and a NUL).
const (
	getBufferLength = 2048
	maxBufferLength = 4096
)

// NoContentLength is BodyDigest.ContentLength when the response names none
// (keepalived's SIZE_MAX).
const NoContentLength = ^uint64(0)

// KeepalivedRequest is the GET request keepalived 2.2.7's HTTP_GET,
// SSL_GET and genhash send for path (see httpRequest), cut to 2047 bytes
// as keepalived's snprintf into GET_BUFFER_LENGTH cuts it. protocol is
// "", "1.0", "1.0C" or "1.1"; vhost "" puts addr in Host.
func KeepalivedRequest(path, protocol, vhost string, addr netip.AddrPort) []byte {
	req := httpRequest(path, protocol, vhost, addr)
	if len(req) > getBufferLength-1 {
		req = req[:getBufferLength-1]
	}
	return req
}

// BodyDigest follows one response read by read as keepalived does. Read
// into Buf(), then call Feed with the count read; at the end of the
// stream call Sum.
type BodyDigest struct {
	buf       [maxBufferLength]byte
	n         int // keepalived's req->len
	extracted bool
	status    int
	clen      uint64 // keepalived's req->content_len
	rx        uint64 // keepalived's req->rx_bytes
	h         hash.Hash

	// Trace, when set, receives genhash -v's dumps of the header and
	// of each hashed part, as keepalived prints them to stdout.
	Trace io.Writer
}

// NewBodyDigest starts a response.
func NewBodyDigest() *BodyDigest {
	return &BodyDigest{h: md5.New()} //nolint:gosec // keepalived's digest is MD5
}

// Buf is where the next read goes: keepalived reads at most
// MAX_BUFFER_LENGTH-1 bytes less what it holds of an unfinished header.
// An empty Buf means a read of 0 bytes, which keepalived takes for the
// end of the stream (a header over 4095 bytes is never found).
func (d *BodyDigest) Buf() []byte { return d.buf[d.n : maxBufferLength-1] }

// Output delimiters of check_http.c.
const (
	delimHTTPHeaderHexa  = "-----------------------[    HTTP Header Buffer    ]-----------------------\n"
	delimHTTPHeaderASCII = "-----------------------[ HTTP Header Ascii Buffer ]-----------------------\n"
	delimHTMLHeaderHexa  = "-----------------------[        HTML Buffer        ]-----------------------\n"
	delimHTMLHash        = "-----------------------[    HTML hash resulting    ]-----------------------\n"
	delimHTMLHashFinal   = "-----------------------[ HTML hash final resulting ]-----------------------\n"
)

// Feed takes r (> 0) bytes just read into Buf(): keepalived's
// http_process_response.
func (d *BodyDigest) Feed(r int) {
	old := d.n
	d.n += r
	if !d.extracted {
		if d.Trace != nil {
			io.WriteString(d.Trace, delimHTTPHeaderHexa)
		}
		hdr := extractHTML(d.buf[:d.n])
		if hdr < 0 {
			return
		}
		d.extracted = true
		d.status = extractStatusCode(d.buf[:d.n])
		d.clen = extractContentLength(d.buf[:d.n])
		if d.Trace != nil {
			DumpBuffer(d.Trace, d.buf[:hdr])
			io.WriteString(d.Trace, delimHTTPHeaderASCII)
			fmt.Fprintf(d.Trace, "%s\n", cString(d.buf[:hdr]))
		}
		body := d.n - hdr
		if body > 0 && (d.clen == NoContentLength || d.clen > d.rx) {
			m := d.take(uint64(body))
			d.h.Write(d.buf[hdr : hdr+m])
			if d.Trace != nil {
				io.WriteString(d.Trace, delimHTMLHeaderHexa)
				DumpBuffer(d.Trace, d.buf[hdr:hdr+m])
			}
		}
		d.rx = uint64(body)
		d.n = 0
		return
	}
	if d.n > 0 {
		if d.clen == NoContentLength || d.clen > d.rx {
			m := d.take(uint64(r))
			d.h.Write(d.buf[old : old+m])
			if d.Trace != nil {
				DumpBuffer(d.Trace, d.buf[old:old+m])
			}
		}
		d.rx += uint64(d.n)
		d.n = 0
	}
}

// take is how much of r new body bytes keepalived hashes.
func (d *BodyDigest) take(r uint64) int {
	if d.clen == NoContentLength || d.clen >= d.rx+r {
		return int(r)
	}
	return int(d.clen - d.rx)
}

// HeaderSeen says whether the header's end has been received; at the end
// of the stream without it keepalived reports "no data received".
func (d *BodyDigest) HeaderSeen() bool { return d.extracted }

// StatusCode is the response's status code as keepalived reads it (0 when
// the status line is not HTTP-like).
func (d *BodyDigest) StatusCode() int { return d.status }

// ContentLength is the Content-Length keepalived read, or NoContentLength.
func (d *BodyDigest) ContentLength() uint64 { return d.clen }

// Received is how many body bytes arrived (keepalived's rx_bytes).
func (d *BodyDigest) Received() uint64 { return d.rx }

// Sum is the digest of what was fed. With Trace set, keepalived's
// dump_digest is written when final is true (a clean end of stream: EOF,
// or TLS close_notify).
func (d *BodyDigest) Sum(final bool) [md5.Size]byte {
	var s [md5.Size]byte
	copy(s[:], d.h.Sum(nil))
	if final && d.Trace != nil {
		io.WriteString(d.Trace, "\n"+delimHTMLHash)
		DumpBuffer(d.Trace, s[:])
		io.WriteString(d.Trace, delimHTMLHashFinal)
	}
	return s
}

// KeepalivedDigest reads a whole response from r in keepalived's reads and
// returns its digest; ok is false when no header end was received
// (keepalived: "no data received"). A read error other than io.EOF ends
// the response as keepalived's read error does, and is returned.
func KeepalivedDigest(r io.Reader) (sum [md5.Size]byte, status int, ok bool, err error) {
	d := NewBodyDigest()
	err = d.Consume(r, nil)
	return d.Sum(false), d.status, d.extracted, err
}

// Consume feeds d from r in keepalived's reads until the end of the
// stream, a read error (returned; io.EOF is the end), or enough(d) after a
// read (nil: never).
func (d *BodyDigest) Consume(r io.Reader, enough func(*BodyDigest) bool) error {
	for {
		b := d.Buf()
		if len(b) == 0 {
			return nil
		}
		n, err := r.Read(b)
		if n > 0 {
			d.Feed(n)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if enough != nil && enough(d) {
			return nil
		}
	}
}

// extractHTML is lib/html.c extract_html: the offset after the first
// CRLFCRLF, or -1.
func extractHTML(b []byte) int {
	if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
		return i + 4
	}
	return -1
}

// cString is b up to its first NUL, as C's string functions see it
// (keepalived NUL-terminates its buffer at the data's end).
func cString(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// extractContentLength is lib/html.c extract_content_length: strstr for
// "Content-Length:" (case as written) anywhere in the buffer received so
// far, then strtoul; anything but CR, LF or the end after the number
// means none.
func extractContentLength(b []byte) uint64 {
	s := cString(b)
	i := bytes.Index(s, []byte("Content-Length:"))
	if i < 0 {
		return NoContentLength
	}
	v, end := cStrtoul(s[i+len("Content-Length:"):])
	if end < len(s[i+len("Content-Length:"):]) {
		if c := s[i+len("Content-Length:")+end]; c != '\r' && c != '\n' {
			return NoContentLength
		}
	}
	return v
}

// extractStatusCode is lib/html.c extract_status_code.
func extractStatusCode(b []byte) int {
	i := 0
	for i < len(b) && b[i] != ' ' && b[i] != '\r' {
		i++
	}
	if i >= len(b) || b[i] != ' ' {
		return 0
	}
	i++
	if i+3 >= len(b) || b[i] == ' ' || b[i+3] != ' ' {
		return 0
	}
	v, end := cStrtoul(b[i : i+3])
	if end != 3 {
		return 0
	}
	return int(v)
}

// cSpace is C's isspace in the C locale.
func cSpace(c byte) bool { return c == ' ' || (c >= '\t' && c <= '\r') }

// cStrtoul is C's strtoul(s, &end, 10) on a NUL-free s: leading white
// space, an optional sign, decimal digits; a negative number wraps, an
// overflow is ULONG_MAX; end is where parsing stopped (0 with no digits).
func cStrtoul(s []byte) (uint64, int) {
	i := 0
	for i < len(s) && cSpace(s[i]) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	var v uint64
	over := false
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		d := uint64(s[i] - '0')
		if v > (^uint64(0)-d)/10 {
			over = true
		}
		v = v*10 + d
		i++
	}
	if i == start {
		return 0, 0
	}
	if over {
		return ^uint64(0), i
	}
	if neg {
		v = -v
	}
	return v, i
}

// DumpBuffer is keepalived's lib/utils.c dump_buffer with indent 0: offset,
// 16 hex bytes split by " -", then the printable characters.
func DumpBuffer(w io.Writer, b []byte) {
	var out bytes.Buffer
	c := len(b)
	if c%16 != 0 {
		c += 16 - c%16
	}
	for i := 0; i < c; i++ {
		if i%16 == 0 {
			fmt.Fprintf(&out, "%.4d ", i&0xffff)
		}
		if i < len(b) {
			fmt.Fprintf(&out, "%3.2x", b[i])
		} else {
			out.WriteString("   ")
		}
		if (i+1)%8 == 0 {
			if (i+1)%16 != 0 {
				out.WriteString(" -")
			} else {
				out.WriteString("   ")
				for j := i - 15; j <= i; j++ {
					switch {
					case j >= len(b):
						out.WriteByte(' ')
					case b[j] >= 0x20 && b[j] <= 0x7e:
						out.WriteByte(b[j])
					default:
						out.WriteByte('.')
					}
				}
				out.WriteByte('\n')
			}
		}
	}
	w.Write(out.Bytes())
}
