package vrrp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/lvsd/lvsd/internal/labtest"
	"github.com/lvsd/lvsd/internal/script"
)

// The host platform runs scripts through the daemon's runner, so that a
// reload's Configure reaches the router's scripts too; a script that is
// not run says why, in the error and in the log.
func TestHostRunsScriptsThroughTheRunner(t *testing.T) {
	dir, err := os.MkdirTemp("", "lvsd-host-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := script.New(slog.New(slog.NewTextHandler(&logs, nil)), &config.Global{ScriptUser: "lvsd-no-such-user"})
	plat := NewHost(r)
	s := &config.Script{Argv: []string{path}}
	code, err := plat.Run(context.Background(), s)
	if !errors.Is(err, script.ErrRefused) || !strings.Contains(err.Error(), `script_user: user "lvsd-no-such-user" does not exist`) {
		t.Fatalf("Run with a missing script_user = %d, %v; want a refusal naming the user", code, err)
	}
	if !strings.Contains(logs.String(), "lvsd-no-such-user") {
		t.Errorf("the refusal is not logged:\n%s", logs.String())
	}
	// A reload that fixes script_user applies to the same platform.
	r.Configure(&config.Global{ScriptUser: currentUser(t)})
	if code, err := plat.Run(context.Background(), s); err != nil || code != 4 {
		t.Errorf("Run after Configure = %d, %v; want 4", code, err)
	}
}

func currentUser(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return "root"
	}
	labtest.NeedRoot(t) // fatal under CI=true
	return ""
}
