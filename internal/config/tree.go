package config

import "strings"

// Node is one statement: a keyword, its arguments on the same line, and the
// statements of its block if it opened one.
type Node struct {
	Key      string
	KeyTok   Token
	Args     []Token
	Children []*Node
	HasBlock bool
}

// Pos is where the keyword was written.
func (n *Node) Pos() Pos { return n.KeyTok.Pos }

// ArgText returns the argument texts.
func (n *Node) ArgText() []string {
	out := make([]string, len(n.Args))
	for i, a := range n.Args {
		out[i] = a.Text
	}
	return out
}

// RawTail is the arguments as written, joined by single spaces; script
// keywords split it again with keepalived's quoting rules.
func (n *Node) RawTail() string {
	parts := make([]string, len(n.Args))
	for i, a := range n.Args {
		parts[i] = a.Raw
	}
	return strings.Join(parts, " ")
}

// parseTree turns the token stream into statements. A brace may sit anywhere
// on a line; an opening brace alone on the next line belongs to the
// statement before it. Unbalanced braces are reported, never guessed at.
//
// The parser recurses once per block level, so nesting is bounded: past
// budget.BlockDepth it reports the brace and stops. The lexer already
// refuses such a stream (with the same depth, counted the same way); this
// is the parser's own guard against a Go stack overflow.
func parseTree(tokens []Token, diags *Diagnostics) []*Node {
	p := &treeParser{toks: tokens, diags: diags, maxDepth: loadBudget.BlockDepth}
	root := p.block(0, Pos{})
	return root
}

type treeParser struct {
	toks     []Token
	i        int
	diags    *Diagnostics
	maxDepth int
	stopped  bool // past maxDepth: the rest is not parsed, nor reported
}

// open enters the block whose '{' is at pos; false (after reporting it, and
// skipping the rest of the input) if that is one level too many.
func (p *treeParser) open(depth int, pos Pos) bool {
	if depth+1 <= p.maxDepth {
		return true
	}
	p.diags.Errorf(pos, "configuration nests blocks deeper than %d levels", p.maxDepth)
	p.i = len(p.toks)
	p.stopped = true
	return false
}

func (p *treeParser) peek() (Token, bool) {
	if p.i >= len(p.toks) {
		return Token{}, false
	}
	return p.toks[p.i], true
}

// block reads statements until the closing brace of this level (depth > 0)
// or the end of input (depth 0).
func (p *treeParser) block(depth int, open Pos) []*Node {
	var nodes []*Node
	for {
		t, ok := p.peek()
		if !ok {
			if depth > 0 && !p.stopped {
				// keepalived 2.2.7 reports the missing '}' at the end
				// of the file and runs with what the block holds.
				p.diags.Skipf(open, "block opened here is never closed: missing '}'; read to the end of the configuration, as keepalived reads it")
			}
			return nodes
		}
		switch t.Kind {
		case TokEOL:
			p.i++
		case TokClose:
			p.i++
			if depth > 0 {
				return nodes
			}
			// keepalived 2.2.7: "Extra '}' found", dropped.
			p.diags.Skipf(t.Pos, "unexpected '}' with no open block; ignored, as keepalived ignores it")
		case TokOpen:
			p.i++
			p.diags.Errorf(t.Pos, "'{' without a keyword before it")
			if p.open(depth, t.Pos) {
				p.block(depth+1, t.Pos) // skip the anonymous block whole
			}
		default:
			nodes = append(nodes, p.statement(depth))
		}
	}
}

func (p *treeParser) statement(depth int) *Node {
	kw := p.toks[p.i]
	p.i++
	n := &Node{Key: kw.Text, KeyTok: kw}
	for {
		t, ok := p.peek()
		if !ok {
			return n
		}
		switch t.Kind {
		case TokWord:
			n.Args = append(n.Args, t)
			p.i++
		case TokOpen:
			p.i++
			n.HasBlock = true
			if p.open(depth, t.Pos) {
				n.Children = p.block(depth+1, t.Pos)
			}
			return n
		case TokClose:
			return n // the enclosing block consumes it
		case TokEOL:
			p.i++
			// "keyword\n{" : the brace on the next line opens this block.
			if nt, ok := p.peek(); ok && nt.Kind == TokOpen {
				p.i++
				n.HasBlock = true
				if p.open(depth, nt.Pos) {
					n.Children = p.block(depth+1, nt.Pos)
				}
			}
			return n
		}
	}
}
