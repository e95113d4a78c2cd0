// Package config reads keepalived.conf as keepalived 2.2.7 reads it and
// returns lvsd's typed model of it.
//
// Load runs the stages in one stream: the lexer pre-processes the files
// (comments, quoting, include and its variants with globs, $VARIABLES and
// multi-line definitions, @id conditionals, ~SEQ) into tokens that carry
// file, line and column; the tree parser groups them into statements and
// blocks; the keyword tables (build*.go, one entry per keyword keepalived
// knows, each handled or warned with its reason) fill the model with
// keepalived's defaults; validate*.go applies the rules that span blocks
// (VRIDs, sync groups, quorum, ports) and vrrp_complete_instance's.
//
// Every problem is a Diagnostic naming file, line and what is wrong.
// Errors that keepalived logs and runs past are recorded with Skipf and
// leave the item out (or at keepalived's default), so that `lvsd run`
// starts wherever keepalived starts (Result.Runnable) while check-config
// fails on them (Result.OK). Limits on files, nesting, tokens and
// expansion (lexer.go's budget) bound the time and memory a hostile file takes.
//
// The model (model*.go) is what consumers read; internal/vrrp and
// internal/ipvs resolve from it the specs they run, and a reload compares
// those. Nothing here touches the network or the kernel: the checks
// against the running machine (check-config --host) go through HostEnv.
package config
