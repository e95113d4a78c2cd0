package check

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/netip"
	"strings"
	"testing"
)

func TestExtractContentLength(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
	}{
		{"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\n", 12},
		{"HTTP/1.0 200 OK\r\nContent-Length:12\r\n\r\n", 12},
		{"HTTP/1.0 200 OK\r\ncontent-length: 12\r\n\r\n", NoContentLength}, // case as written
		{"HTTP/1.0 200 OK\r\nContent-Length: 12 \r\n\r\n", NoContentLength},
		{"HTTP/1.0 200 OK\r\nContent-Length: x\r\n\r\n", NoContentLength},
		{"HTTP/1.0 200 OK\r\nContent-Length:\r\n\r\n", 0}, // strtoul skips the CRLF, finds no digit, end stays at CR
		{"HTTP/1.0 200 OK\r\nContent-Length: -1\r\n\r\n", NoContentLength},
		{"HTTP/1.0 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", NoContentLength},
		{"HTTP/1.0 200 OK\r\n\r\nbody Content-Length: 3\r\n", 3}, // strstr over the whole buffer
		{"HTTP/1.0 200 OK\r\n\r\n\x00Content-Length: 3\r\n", NoContentLength},
		{"HTTP/1.0 200 OK\r\nContent-Length: 7", 7},
	} {
		if got := extractContentLength([]byte(tc.in)); got != tc.want {
			t.Errorf("%q: %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestExtractStatusCode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"HTTP/1.0 200 OK\r\n", 200},
		{"HTTP/1.1 404 Not Found\r\n", 404},
		{"HTTP/1.1 404\r\n", 0},
		{"HTTP/1.1  200 OK\r\n", 0},
		{"HTTP/1.1 20x OK\r\n", 0},
		{"garbage", 0},
		{"HTTP/1.1\r\n200 OK", 0},
	} {
		if got := extractStatusCode([]byte(tc.in)); got != tc.want {
			t.Errorf("%q: %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestDumpBuffer(t *testing.T) {
	var b bytes.Buffer
	DumpBuffer(&b, []byte("hello world\n"))
	want := "0000  68 65 6c 6c 6f 20 77 6f - 72 6c 64 0a               hello world.    \n"
	if b.String() != want {
		t.Fatalf("%q\nwant %q", b.String(), want)
	}
	b.Reset()
	DumpBuffer(&b, []byte("0123456789abcdef\x00\xff"))
	want = "0000  30 31 32 33 34 35 36 37 - 38 39 61 62 63 64 65 66   0123456789abcdef\n" +
		"0016  00 ff                   -                           ..              \n"
	if b.String() != want {
		t.Fatalf("%q\nwant %q", b.String(), want)
	}
	b.Reset()
	DumpBuffer(&b, nil)
	if b.Len() != 0 {
		t.Fatalf("empty buffer dumped %q", b.String())
	}
}

// feedSplit feeds resp to a BodyDigest in reads of the given sizes.
func feedSplit(resp []byte, sizes []int) *BodyDigest {
	d := NewBodyDigest()
	i := 0
	for len(resp) > 0 {
		b := d.Buf()
		if len(b) == 0 {
			break
		}
		n := len(resp)
		if len(sizes) > 0 {
			n = min(n, sizes[i%len(sizes)])
			i++
		}
		n = copy(b, resp[:n])
		d.Feed(n)
		resp = resp[n:]
	}
	return d
}

func TestBodyDigest(t *testing.T) {
	md5hex := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	for _, tc := range []struct {
		name, resp, want string
		status           int
		seen             bool
	}{
		{"plain", "HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n", md5hex("hello world\n"), 200, true},
		{"cut at content-length", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello world", md5hex("hello"), 200, true},
		{"short of content-length", "HTTP/1.0 200 OK\r\nContent-Length: 50\r\n\r\nhello", md5hex("hello"), 200, true},
		{"to the end", "HTTP/1.0 404 Not Found\r\n\r\nnothing here", md5hex("nothing here"), 404, true},
		{"chunk framing hashed", chunked, md5hex("5\r\nhello\r\n0\r\n\r\n"), 200, true},
		{"no header end", "HTTP/1.0 200 OK\r\nX: y\r\n", md5hex(""), 0, false},
		{"header over 4095 bytes", "HTTP/1.0 200 OK\r\nX: " + strings.Repeat("y", 5000) + "\r\n\r\nbody", md5hex(""), 0, false},
	} {
		for _, sizes := range [][]int{nil, {1}, {7, 3}, {4095}, {100, 1}} {
			d := feedSplit([]byte(tc.resp), sizes)
			sum := d.Sum(false)
			if got := hex.EncodeToString(sum[:]); got != tc.want || d.StatusCode() != tc.status || d.HeaderSeen() != tc.seen {
				t.Errorf("%s split %v: %s status %d seen %v, want %s %d %v", tc.name, sizes, got, d.StatusCode(), d.HeaderSeen(), tc.want, tc.status, tc.seen)
			}
		}
		sum, status, seen, err := KeepalivedDigest(strings.NewReader(tc.resp))
		if got := hex.EncodeToString(sum[:]); err != nil || got != tc.want || status != tc.status || seen != tc.seen {
			t.Errorf("%s KeepalivedDigest: %s %d %v %v", tc.name, got, status, seen, err)
		}
	}
}

func TestBodyDigestTrace(t *testing.T) {
	var tr bytes.Buffer
	d := NewBodyDigest()
	d.Trace = &tr
	resp := "HTTP/1.0 200 OK\r\n\r\nab"
	n := copy(d.Buf(), resp)
	d.Feed(n)
	n = copy(d.Buf(), "cd")
	d.Feed(n)
	d.Sum(true)
	want := delimHTTPHeaderHexa +
		"0000  48 54 54 50 2f 31 2e 30 - 20 32 30 30 20 4f 4b 0d   HTTP/1.0 200 OK.\n" +
		"0016  0a 0d 0a                -                           ...             \n" +
		delimHTTPHeaderASCII + "HTTP/1.0 200 OK\r\n\r\n\n" +
		delimHTMLHeaderHexa +
		"0000  61 62                   -                           ab              \n" +
		"0000  63 64                   -                           cd              \n" +
		"\n" + delimHTMLHash +
		"0000  e2 fc 71 4c 47 27 ee 93 - 95 f3 24 cd 2e 7f 33 1f   ..qLG'....$...3.\n" +
		delimHTMLHashFinal
	if tr.String() != want {
		t.Fatalf("trace:\n%s\nwant:\n%s", tr.String(), want)
	}
}

func TestKeepalivedRequest(t *testing.T) {
	addr := netip.MustParseAddrPort("[2001:db8::1]:8080")
	if got := string(KeepalivedRequest("/x", "1.1", "", addr)); got != "GET /x HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: [2001:db8::1]:8080\r\n\r\n" {
		t.Fatalf("%q", got)
	}
	if got := KeepalivedRequest("/"+strings.Repeat("a", 3000), "", "h", addr); len(got) != 2047 {
		t.Fatalf("long request: %d bytes, want 2047 (keepalived's snprintf)", len(got))
	}
}

// FuzzBodyDigest: how a response is split between reads never changes
// its digest while the header fits keepalived's buffer.
func FuzzBodyDigest(f *testing.F) {
	f.Add([]byte("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello world"), uint8(3))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, resp []byte, split uint8) {
		if len(resp) > 3000 {
			return
		}
		// keepalived looks for Content-Length in all it has read with
		// the header's end: in a body, the split does matter.
		// (strtoul skips white space, CRLFs included, into it).
		if h := extractHTML(resp); h >= 0 {
			c := bytes.Index(cString(resp), []byte("Content-Length:"))
			if c >= h-3 {
				return
			}
			if c >= 0 {
				e := c + len("Content-Length:")
				for e < len(resp) && cSpace(resp[e]) {
					e++
				}
				if e >= h {
					return
				}
			}
		}
		whole := feedSplit(resp, nil)
		parts := feedSplit(resp, []int{int(split%64) + 1})
		if whole.Sum(false) != parts.Sum(false) || whole.HeaderSeen() != parts.HeaderSeen() {
			t.Fatalf("split %d changes the digest", split)
		}
		sum, _, _, err := KeepalivedDigest(io.LimitReader(bytes.NewReader(resp), int64(len(resp))))
		if err != nil || sum != whole.Sum(false) {
			t.Fatalf("KeepalivedDigest %x %v", sum, err)
		}
	})
}
