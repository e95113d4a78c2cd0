package config

import (
	"fmt"
	"sort"
)

// Pos locates a token in the configuration as the operator wrote it.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

func (p Pos) String() string {
	if p.File == "" {
		return "<input>"
	}
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Severity orders diagnostics: errors make a configuration unusable,
// warnings flag something lvsd accepted but the operator should review.
type Severity int

const (
	SeverityWarning Severity = iota
	SeverityError
)

func (s Severity) String() string {
	if s == SeverityError {
		return "error"
	}
	return "warning"
}

// MarshalText lets --format json print "error"/"warning" rather than a number.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Diagnostic is one finding about the configuration.
type Diagnostic struct {
	Pos      Pos      `json:"pos"`
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	// Skipped marks an error keepalived 2.2.7 logs and runs past, leaving
	// the offending item out (or at its default). The model leaves it out
	// the same way, so lvsd run starts on it (never stricter than keepalived
	// at run time); check-config still fails on it.
	Skipped bool `json:"skipped,omitempty"`
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Message)
}

// maxDiagnostics bounds what one load records: a configuration within
// the loader's budget can still hold a million unknown keywords, and
// formatting, suggesting and sorting a diagnostic for each took seconds and
// hundreds of MB. Past the bound they are counted, not kept. It is above
// the pre-processor's own limit (budget.Errors), whose "giving up" line
// must be kept.
const maxDiagnostics = 2000

// Diagnostics collects findings; Sorted returns them once each in file order.
type Diagnostics struct {
	list []Diagnostic
	// order records the order files were first opened so that diagnostics
	// from an included file sort where the include sits, not alphabetically.
	fileOrder map[string]int
	// Past maxDiagnostics: how many were not kept, and where the first was.
	droppedErrors, droppedWarnings int
	firstDropped                   Pos
	// fatal counts errors not marked Skipped, kept or not.
	fatal int
}

// Full reports that further diagnostics are only counted, so callers can
// skip costly work on their text (keyword suggestions).
func (ds *Diagnostics) Full() bool { return len(ds.list) >= maxDiagnostics }

func (ds *Diagnostics) add(pos Pos, sev Severity, skipped bool, format string, args ...any) {
	if sev == SeverityError && !skipped {
		ds.fatal++
	}
	if ds.Full() {
		if ds.droppedErrors+ds.droppedWarnings == 0 {
			ds.firstDropped = pos
		}
		if sev == SeverityError {
			ds.droppedErrors++
		} else {
			ds.droppedWarnings++
		}
		return
	}
	ds.list = append(ds.list, Diagnostic{Pos: pos, Severity: sev, Message: fmt.Sprintf(format, args...), Skipped: skipped})
}

// appendFrom records o's diagnostics after ds's, as if each had been
// reported to ds in o's order: Load keeps the parser's and the builder's
// apart while the lexer is still reporting, and joins them when it is done.
func (ds *Diagnostics) appendFrom(o *Diagnostics) {
	ds.fatal += o.fatal
	for _, d := range o.list {
		if !ds.Full() {
			ds.list = append(ds.list, d)
			continue
		}
		if ds.droppedErrors+ds.droppedWarnings == 0 {
			ds.firstDropped = d.Pos
		}
		if d.Severity == SeverityError {
			ds.droppedErrors++
		} else {
			ds.droppedWarnings++
		}
	}
	if o.droppedErrors+o.droppedWarnings > 0 {
		if ds.droppedErrors+ds.droppedWarnings == 0 {
			ds.firstDropped = o.firstDropped
		}
		ds.droppedErrors += o.droppedErrors
		ds.droppedWarnings += o.droppedWarnings
	}
}

// Errorf records an error at pos that stops lvsd run from using the
// configuration (at start the daemon exits; at reload it keeps the running
// configuration).
func (ds *Diagnostics) Errorf(pos Pos, format string, args ...any) {
	ds.add(pos, SeverityError, false, format, args...)
}

// Skipf records an error at pos that keepalived 2.2.7 logs and runs past;
// the caller must leave the offending item out of the model (or at its
// default) as keepalived does. check-config fails on it; lvsd run logs it
// and runs.
func (ds *Diagnostics) Skipf(pos Pos, format string, args ...any) {
	ds.add(pos, SeverityError, true, format, args...)
}

// Warnf records a warning at pos.
func (ds *Diagnostics) Warnf(pos Pos, format string, args ...any) {
	ds.add(pos, SeverityWarning, false, format, args...)
}

// HasFatal reports whether any error not marked Skipped was recorded.
func (ds *Diagnostics) HasFatal() bool { return ds.fatal > 0 }

func (ds *Diagnostics) noteFile(name string) {
	if ds.fileOrder == nil {
		ds.fileOrder = map[string]int{}
	}
	if _, ok := ds.fileOrder[name]; !ok {
		ds.fileOrder[name] = len(ds.fileOrder)
	}
}

// Sorted returns the diagnostics deduplicated, in file order then line and column.
func (ds *Diagnostics) Sorted() []Diagnostic {
	seen := map[Diagnostic]bool{}
	out := make([]Diagnostic, 0, len(ds.list))
	for _, d := range ds.list {
		if seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if a.File != b.File {
			fa, oka := ds.fileOrder[a.File]
			fb, okb := ds.fileOrder[b.File]
			if oka && okb {
				return fa < fb
			}
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	if n := ds.droppedErrors + ds.droppedWarnings; n > 0 {
		sev := SeverityWarning
		if ds.droppedErrors > 0 {
			sev = SeverityError
		}
		out = append(out, Diagnostic{Pos: ds.firstDropped, Severity: sev,
			Message: fmt.Sprintf("%d more errors and %d more warnings from here on are not shown (at most %d are)", ds.droppedErrors, ds.droppedWarnings, maxDiagnostics)})
	}
	return out
}

// HasErrors reports whether any error was recorded.
func (ds *Diagnostics) HasErrors() bool {
	if ds.droppedErrors > 0 {
		return true
	}
	for _, d := range ds.list {
		if d.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Count returns the number of distinct errors and warnings.
func (ds *Diagnostics) Count() (errors, warnings int) {
	for _, d := range ds.Sorted() {
		if d.Severity == SeverityError {
			errors++
		} else {
			warnings++
		}
	}
	if ds.droppedErrors+ds.droppedWarnings > 0 {
		// The summary line counted once above stands for these.
		if ds.droppedErrors > 0 {
			errors--
		} else {
			warnings--
		}
	}
	return errors + ds.droppedErrors, warnings + ds.droppedWarnings
}
