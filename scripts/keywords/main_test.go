package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestEvalCond(t *testing.T) {
	defs := map[string]bool{"A": true, "B": true}
	for _, c := range []struct {
		expr string
		want bool
	}{
		{"defined A", true},
		{"defined(A)", true},
		{"defined C", false},
		{"!defined C", true},
		{"defined A && defined C", false},
		{"defined A || defined C", true},
		{"(defined C || defined B) && !defined(C)", true},
		{"A", true},
		{"C", false},
		{"HAVE_DECL_X", false},
		{"KERNEL_VERSION(3,11,0) >= 1", false}, // unknown function-like macro is 0
		{"2 > 1", true},
		{"0x10 == 16", true},
		{"!(defined A && defined B)", false},
	} {
		if got := evalCond(c.expr, defs); got != c.want {
			t.Errorf("evalCond(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}

// The shapes keepalived's parser files use: roots, sublevels, helpers with
// parameters (a keyword name, a bool that selects keywords), #if/#else,
// a file's own #define, runtime branches installing the same root, and
// handlers that read a block of values.
const fakeSource = `
#include "parser.h"
#define LOCAL_FEATURE

static void values_handler(const vector_t *strvec) { alloc_value_block(x, strvec); }
static void indirect_handler(const vector_t *strvec) { values_handler(strvec); }
static void plain_handler(const vector_t *strvec) { int i = 0; if (i) { return; } }

static void
common(bool extra)
{
	install_keyword("retry", &plain_handler);
	if (extra) {
		install_keyword("connect_ip", &plain_handler);
	}
	/* install_keyword("commented", &plain_handler); */
}

static void
checker(const char *name, bool extra)
{
	install_keyword(name, &plain_handler);
	install_sublevel();
	common(extra);
	install_keyword("url", &plain_handler);
	install_sublevel();
	install_keyword("path", &plain_handler);
	install_sublevel_end();
	install_sublevel_end();
}

void
global_init_keywords(void)
{
	install_keyword_root("global_defs", NULL, true);
	install_keyword("router_id", &plain_handler);
#ifdef WANT_SNMP
	install_keyword("enable_snmp", &plain_handler);
#else
	install_keyword("no_snmp", &plain_handler);
#endif
#if defined LOCAL_FEATURE && !defined NOPE
	install_keyword("local_feature", &plain_handler);
#endif
	install_keyword("emails", &indirect_handler);
}

void
check_init_keywords(void)
{
	install_keyword_root("virtual_server", &plain_handler, true);
	install_keyword("lb_algo", &plain_handler);
	install_keyword("real_server", &plain_handler);
	install_sublevel();
	install_keyword("weight", &plain_handler);
	checker("TCP_CHECK", true);
	checker("MISC_CHECK", false);
	install_sublevel_end();
	install_keyword("quorum", &plain_handler);
}

void
vrrp_init_keywords(void)
{
	global_init_keywords();
	install_keyword_root("vrrp_instance", &plain_handler, true);
	install_keyword("virtual_ipaddress", &values_handler);
	install_keyword("authentication", NULL);
	install_sublevel();
	install_keyword("auth_type", &plain_handler);
	install_sublevel_end();
	install_keyword("priority", &plain_handler);
	check_init_keywords();
}

void
bfd_init_keywords(void)
{
	if (prog_type == 1)
		install_keyword_root("bfd_instance", &plain_handler, true);
	else
		install_keyword_root("bfd_instance", &plain_handler, false);
	install_keyword("min_rx", &plain_handler);
}
`

func TestExtractFrom(t *testing.T) {
	rows, err := extractFrom(map[string]string{"fake.c": fakeSource}, map[string]bool{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %s %s %v", r.path, r.kw, r.kind, r.built))
	}
	want := []string{
		"/ global_defs block true",
		"global_defs router_id keyword true",
		"global_defs enable_snmp keyword false",
		"global_defs no_snmp keyword true",
		"global_defs local_feature keyword true",
		"global_defs emails values true",
		"/ vrrp_instance block true",
		"vrrp_instance virtual_ipaddress values true",
		"vrrp_instance authentication block true",
		"vrrp_instance/authentication auth_type keyword true",
		"vrrp_instance priority keyword true",
		"/ virtual_server block true",
		"virtual_server lb_algo keyword true",
		"virtual_server real_server block true",
		"virtual_server/real_server weight keyword true",
		"virtual_server/real_server TCP_CHECK block true",
		"virtual_server/real_server/TCP_CHECK retry keyword true",
		"virtual_server/real_server/TCP_CHECK connect_ip keyword true",
		"virtual_server/real_server/TCP_CHECK url block true",
		"virtual_server/real_server/TCP_CHECK/url path keyword true",
		"virtual_server/real_server MISC_CHECK block true",
		"virtual_server/real_server/MISC_CHECK retry keyword true",
		"virtual_server/real_server/MISC_CHECK url block true",
		"virtual_server/real_server/MISC_CHECK/url path keyword true",
		"virtual_server quorum keyword true",
		"/ bfd_instance block true",
		"bfd_instance min_rx keyword true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
