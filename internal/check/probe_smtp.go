package check

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"time"

	"github.com/lvsd/lvsd/internal/config"
)

// SMTP_CHECK, as keepalived 2.2.7's check_smtp.c runs it: connect, read
// the greeting line, which must be "220" followed by a space or nothing;
// send "HELO name"; read a line that must be "250" likewise; send "QUIT"
// and read one more line (any). Each step has connect_timeout. A greeting
// or HELO answer in several lines ("220-...") fails, as in keepalived,
// which reads the first line only.

const smtpBuffMax = 512 // check_smtp.h SMTP_BUFF_MAX

// smtpStatus is keepalived's smtp_get_status: the line's status if it
// begins with three digits followed by a space or its end, else -1.
func smtpStatus(line []byte) int {
	if len(line) < 3 || len(line) > 3 && line[3] != ' ' {
		return -1
	}
	v := 0
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return -1
		}
		v = v*10 + int(c-'0')
	}
	return v
}

// smtpReadLine reads until the data holds a newline and returns what
// precedes it (keepalived's smtp_get_line_cb: a buffer of 511 bytes that
// starts over when full; what follows the newline is dropped).
func smtpReadLine(conn net.Conn, timeout time.Duration) ([]byte, error) {
	buf := make([]byte, 0, smtpBuffMax)
	for {
		if len(buf) >= smtpBuffMax-1 {
			buf = buf[:0]
		}
		_ = conn.SetReadDeadline(time.Now().Add(timeout))
		n, err := conn.Read(buf[len(buf) : smtpBuffMax-1])
		if n <= 0 {
			if err == nil {
				err = fmt.Errorf("connection closed")
			}
			return nil, err
		}
		buf = buf[:len(buf)+n]
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i], nil
		}
	}
}

func smtpProbe(c *config.Checker, rs *config.RealServer) Probe {
	addr := target(c, rs)
	d := dialer(c)
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	helo := []byte("HELO " + c.Extra().HeloName + "\r\n")
	return func(ctx context.Context) (int, error) {
		conn, err := d.DialContext(ctx, "tcp", addr.String())
		if err != nil {
			return -1, err
		}
		defer conn.Close()
		stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
		defer stop()
		step := func(send []byte, want int, what string) error {
			if send != nil {
				_ = conn.SetWriteDeadline(time.Now().Add(timeout))
				if _, err := conn.Write(send); err != nil {
					return fmt.Errorf("write failure to server %s: %w", addr, err)
				}
			}
			line, err := smtpReadLine(conn, timeout)
			if err != nil {
				return fmt.Errorf("read failure from server %s: %w", addr, err)
			}
			if want != 0 && smtpStatus(line) != want {
				return fmt.Errorf("bad %s from server %s: %q", what, addr, line)
			}
			return nil
		}
		if err := step(nil, 220, "greeting banner"); err != nil {
			return -1, err
		}
		if err := step(helo, 250, "HELO response"); err != nil {
			return -1, err
		}
		return -1, step([]byte("QUIT\r\n"), 0, "QUIT response")
	}
}
