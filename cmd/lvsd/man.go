package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newManCommand is the hidden "lvsd man DIR": lvsd(8) and one page per
// subcommand, generated from the cobra commands themselves (the package
// build runs it, so the pages cannot drift from the binary). The date is
// SOURCE_DATE_EPOCH's when set (reproducible builds), else today's.
func newManCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "man DIR",
		Short:  "write lvsd's man pages (section 8) into DIR",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(args[0], 0o755); err != nil {
				return err
			}
			return writeManPages(cmd.Root(), args[0])
		},
	}
}

func writeManPages(root *cobra.Command, dir string) error {
	date := time.Now().UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		date = time.Unix(sec, 0).UTC()
	}
	// The completion command appears at Execute; the pages include it.
	root.InitDefaultCompletionCmd()
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{
		Section: "8",
		Date:    &date,
		Source:  "lvsd " + version,
		Manual:  "System Manager's Manual",
	}
	return doc.GenManTree(root, header, dir)
}
