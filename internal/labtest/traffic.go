package labtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RunHelper runs the traffic helper named by $LVSD_HELPER (serve, connect
// or hold) with os.Args and reports whether it did; test binaries call it
// from TestMain so that lab tests can start them inside namespaces.
func RunHelper() bool {
	atoi := func(s string) int { v, _ := strconv.Atoi(s); return v }
	switch os.Getenv("LVSD_HELPER") {
	case "serve":
		Serve(os.Args[1], os.Args[2])
	case "connect":
		Connect(os.Args[1], atoi(os.Args[2]))
	case "hold":
		Hold(os.Args[1], atoi(os.Args[2]), os.Args[3])
	default:
		return false
	}
	return true
}

// Serve is a real server: it greets each connection with its id and
// echoes what it reads, holding the connection until the client closes.
func Serve(id, addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			fmt.Fprintf(c, "%s\n", id)
			_, _ = io.Copy(c, c)
		}(c)
	}
}

// Connect opens n short connections and prints how many each real
// server answered, as JSON.
func Connect(addr string, n int) {
	var mu sync.Mutex
	counts := map[string]int{}
	var next, failures atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				id := "error"
				// A broken lab fails every connection; give up early
				// instead of waiting out thousands of timeouts.
				if failures.Load() > 50 {
					return
				}
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err == nil {
					_ = c.SetDeadline(time.Now().Add(5 * time.Second))
					line, err := bufio.NewReader(c).ReadString('\n')
					if err == nil {
						id = line[:len(line)-1]
					}
					c.Close()
				}
				if id == "error" {
					failures.Add(1)
				}
				mu.Lock()
				counts[id]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	_ = json.NewEncoder(os.Stdout).Encode(counts)
}

// Hold opens n long-lived connections and pings each one every 200ms
// until it gets SIGTERM or the duration passes; it prints how many
// connections failed (reset, wrong echo, or no echo within holdStall),
// the fewest pings a connection made and the slowest echo. A slow echo is
// not a failure: under emulation, with other lab VMs on the same cores,
// an echo can take seconds while the connection is intact.
func Hold(addr string, n int, duration string) {
	d, _ := time.ParseDuration(duration)
	conns := make([]net.Conn, 0, n)
	readers := make([]*bufio.Reader, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Println(`{"error":"dial"}`)
			os.Exit(1)
		}
		r := bufio.NewReader(c)
		if _, err := r.ReadString('\n'); err != nil {
			fmt.Println(`{"error":"greeting"}`)
			os.Exit(1)
		}
		conns, readers = append(conns, c), append(readers, r)
	}
	fmt.Println("ready")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
		case <-time.After(d):
		}
		close(done)
	}()
	// Each connection pings on its own, so a slow machine slows every
	// connection a little instead of starving the last ones.
	pings := make([]int, n)
	failed := make([]bool, n)
	slowest := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				case <-time.After(200 * time.Millisecond):
				}
				sent := time.Now()
				_ = conns[i].SetDeadline(sent.Add(holdStall))
				if _, err := conns[i].Write([]byte("p\n")); err != nil {
					failed[i] = true
					return
				}
				if line, err := readers[i].ReadString('\n'); err != nil || line != "p\n" {
					failed[i] = true
					return
				}
				slowest[i] = max(slowest[i], time.Since(sent))
				pings[i]++
			}
		}()
	}
	wg.Wait()
	bad, rounds := 0, -1
	var slow time.Duration
	for i := range conns {
		if failed[i] {
			bad++
		}
		if rounds < 0 || pings[i] < rounds {
			rounds = pings[i]
		}
		slow = max(slow, slowest[i])
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]int{"connections": n, "failed": bad, "rounds": rounds, "slowest_ms": int(slow.Milliseconds())})
}

// HoldResult is what Hold prints when it ends.
type HoldResult struct {
	Connections, Failed, Rounds int
	SlowestMs                   int `json:"slowest_ms"`
}

// holdStall is how long Hold waits for an echo before it counts the
// connection failed: far beyond any reload or restart's stall, so that
// only a connection that is gone (or black-holed) fails.
const holdStall = 30 * time.Second
