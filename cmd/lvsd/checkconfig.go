package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/lvsd/lvsd/internal/config"
	"github.com/spf13/cobra"
)

const checkConfigHelp = `Parse and validate a keepalived.conf without touching the system.

Diagnostics are printed as FILE:LINE:COL: error|warning: MESSAGE, once each, in
file order. Without --host the check is static, for CI machines that lack the
director's interfaces; --host also checks interfaces, scripts and script
security against this machine.

Errors keepalived 2.2.7 logs and runs past (an unknown keyword, a value it
ignores) fail the check as they fail keepalived -t, but do not stop lvsd run,
which leaves the item out as keepalived does; the verdict line says so, and
--format json reports it per diagnostic ("skipped") and as "runnable".

Exit codes:
  0  the configuration is valid (warnings allowed unless --strict)
  1  the configuration has errors, or cannot be read
  2  --strict was given and there are warnings but no errors
  3  bad command-line usage`

func newCheckConfigCommand(g *globalFlags) *cobra.Command {
	var (
		host, strict, dump, allConfig bool
		format                        string
	)
	cmd := &cobra.Command{
		Use:   "check-config [FILE]",
		Short: "validate a keepalived.conf (better keepalived -t)",
		Long:  checkConfigHelp,
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.configFile
			if len(args) == 1 {
				path = args[0]
			}
			if format != "text" && format != "json" {
				fmt.Fprintf(cmd.ErrOrStderr(), "lvsd: --format must be text or json\n")
				return exitError{3}
			}
			opts := config.Options{ConfigID: g.configID, AllConfig: allConfig}
			if host {
				opts.Host = config.LocalHost{}
			}
			// See config.CheckConfigGCPercent.
			debug.SetGCPercent(config.CheckConfigGCPercent)
			res := config.Load(path, opts)
			code := checkConfigReport(cmd.OutOrStdout(), cmd.ErrOrStderr(), res, format, dump, strict)
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&host, "host", false, "also check interfaces, scripts and script security on this machine")
	cmd.Flags().BoolVar(&strict, "strict", false, "treat warnings as failures (exit 2)")
	cmd.Flags().BoolVar(&dump, "dump", false, "print the fully resolved model (defaults filled in) as JSON")
	cmd.Flags().BoolVarP(&allConfig, "all-config", "e", false, "every include must match and be readable (keepalived -e: includea everywhere)")
	cmd.Flags().StringVar(&format, "format", "text", "diagnostics format: text or json")
	return cmd
}

func checkConfigReport(out, errOut io.Writer, res *config.Result, format string, dump, strict bool) int {
	diags := res.Diags.Sorted()
	errs, warns := res.Diags.Count()
	if format == "json" {
		doc := struct {
			Valid bool `json:"valid"`
			// Runnable: lvsd run would start on it (every error is one
			// keepalived 2.2.7 logs and runs past).
			Runnable    bool                `json:"runnable"`
			Errors      int                 `json:"errors"`
			Warnings    int                 `json:"warnings"`
			Hash        string              `json:"config_hash"`
			Diagnostics []config.Diagnostic `json:"diagnostics"`
			Config      *config.Config      `json:"config,omitempty"`
		}{Valid: errs == 0, Runnable: res.Runnable(), Errors: errs, Warnings: warns, Hash: res.Hash, Diagnostics: diags}
		if doc.Diagnostics == nil {
			doc.Diagnostics = []config.Diagnostic{}
		}
		if dump {
			doc.Config = res.Config
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
	} else {
		for _, d := range diags {
			fmt.Fprintln(errOut, d.String())
		}
		if dump {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			_ = enc.Encode(res.Config)
		}
		verdict := "valid"
		switch {
		case errs > 0 && res.Runnable():
			verdict = "invalid (lvsd run would start on it, without what the errors name, as keepalived 2.2.7 does)"
		case errs > 0:
			verdict = "invalid"
		}
		fmt.Fprintf(errOut, "%s: %d error(s), %d warning(s)\n", verdict, errs, warns)
	}
	switch {
	case errs > 0:
		return 1
	case strict && warns > 0:
		return 2
	}
	return 0
}
