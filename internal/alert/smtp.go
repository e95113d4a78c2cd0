package alert

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// maxReply bounds one reply, as keepalived's 1024-byte read buffer does.
const maxReply = 1024

// ParseReply reads one SMTP reply (its continuation lines "250-..." up to
// the last "250 ...") and returns its code. keepalived's smtp_read_thread
// takes the code of the last line; a reply longer than its buffer ends the
// session.
func ParseReply(r *bufio.Reader) (int, error) {
	total := 0
	for {
		line, err := r.ReadSlice('\n')
		total += len(line)
		if errors.Is(err, bufio.ErrBufferFull) || total > maxReply {
			return 0, errors.New("reply too long")
		}
		if err != nil {
			if err == io.EOF {
				return 0, errors.New("connection closed by the server")
			}
			return 0, err
		}
		if len(line) < 4 {
			return 0, fmt.Errorf("malformed reply %q", line)
		}
		if line[3] == '-' {
			continue // a continuation line: the code is on the last
		}
		code, err := strconv.Atoi(string(line[:3]))
		if err != nil || code < 100 || code > 599 {
			return 0, fmt.Errorf("malformed reply %q", line)
		}
		return code, nil
	}
}

// stageError is a failed session: where it failed, and whether the
// message may have been delivered (then it is not sent again).
type stageError struct {
	stage     string
	code      int
	err       error
	delivered bool
}

func (e *stageError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("%s: %v", e.stage, e.err)
	}
	return fmt.Sprintf("%s: SMTP status code %d", e.stage, e.code)
}

// send delivers one message over plain SMTP as keepalived's smtp.c does:
// the greeting, HELO, MAIL FROM, one RCPT TO per recipient, DATA, the
// message, QUIT. Every read and write is bounded by timeout (keepalived's
// smtp_connect_timeout bounds each step too).
func send(ctx context.Context, addr string, timeout time.Duration, helo, from string, to []string, data string) error {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &stageError{stage: "connect", err: err}
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	r := bufio.NewReaderSize(conn, maxReply)
	step := func(stage, cmd string, ok func(int) bool) error {
		_ = conn.SetDeadline(time.Now().Add(timeout))
		if cmd != "" {
			if _, err := io.WriteString(conn, cmd); err != nil {
				return &stageError{stage: stage, err: err}
			}
		}
		code, err := ParseReply(r)
		if err != nil {
			return &stageError{stage: stage, err: err}
		}
		if !ok(code) {
			return &stageError{stage: stage, code: code}
		}
		return nil
	}
	is2 := func(c int) bool { return c/100 == 2 }
	quit := func(e error) error {
		// keepalived sends QUIT after an unexpected code.
		var se *stageError
		if errors.As(e, &se) && se.err == nil {
			_ = step("QUIT", "QUIT\r\n", func(int) bool { return true })
		}
		return e
	}
	if err := step("(E)SMTP", "", func(c int) bool { return c == 220 }); err != nil {
		return quit(err)
	}
	if err := step("HELO", "HELO "+helo+"\r\n", is2); err != nil {
		return quit(err)
	}
	if err := step("MAIL", "MAIL FROM:<"+from+">\r\n", is2); err != nil {
		return quit(err)
	}
	for _, rcpt := range to {
		if err := step("RCPT", "RCPT TO:<"+rcpt+">\r\n", is2); err != nil {
			return quit(err)
		}
	}
	if err := step("DATA", "DATA\r\n", func(c int) bool { return c == 354 }); err != nil {
		return quit(err)
	}
	if err := step("BODY", data, is2); err != nil {
		var se *stageError
		if errors.As(err, &se) && se.err != nil {
			// Sent, but no answer: it may have been delivered.
			se.delivered = true
		}
		return quit(err)
	}
	// A QUIT without its 221 does not undo the delivery.
	_ = step("QUIT", "QUIT\r\n", func(c int) bool { return c == 221 })
	return nil
}
