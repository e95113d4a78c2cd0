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
// Nesting is bounded: past budget.BlockDepth the parser reports the brace
// and stops. The lexer already refuses such a stream (with the same depth,
// counted the same way); this is the parser's own guard.
func parseTree(tokens []Token, diags *Diagnostics) []*Node {
	var nodes []*Node
	p := newStreamParser(diags, func(n *Node) { nodes = append(nodes, n) })
	for _, t := range tokens {
		p.feed(t)
	}
	p.end()
	return nodes
}

// streamParser builds the statement tree from tokens pushed to it one at a
// time, as the lexer produces them, and hands over each top-level
// statement as soon as it is complete: Load builds the model from it then,
// so that neither the whole token stream nor the whole tree is ever held.
type streamParser struct {
	diags    *Diagnostics
	maxDepth int
	deliver  func(*Node) // a complete top-level statement
	stopped  bool        // past maxDepth: the rest is not parsed, nor reported
	// frames are the blocks open: frames[0] is the top level, the others
	// a statement's block (node) or an anonymous '{' (node nil).
	frames []parseFrame
	// stmt is the statement whose arguments are being read; afterEOL says
	// its line has ended and the next token tells whether a '{' on the
	// next line opens its block.
	stmt     *Node
	afterEOL bool
	// args collects the statement's arguments, copied to it at the size
	// they come to when its line ends: appending to the statement's own
	// slice would leave every smaller array behind (a line of 30,000
	// words twice its size in garbage).
	args []Token
	// nodeSlab and argSlab are where statements and their arguments are
	// carved from: one allocation per hundreds of them instead of one
	// each (a quarter of a load's allocations were statements, garbage
	// once their top-level statement is built).
	nodeSlab []Node
	argSlab  []Token
}

const slabSize = 256

// newNode is a statement from the slab.
func (p *streamParser) newNode(kw Token) *Node {
	if len(p.nodeSlab) == 0 {
		p.nodeSlab = make([]Node, slabSize)
	}
	n := &p.nodeSlab[0]
	p.nodeSlab = p.nodeSlab[1:]
	n.Key, n.KeyTok = kw.Text, kw
	return n
}

type parseFrame struct {
	node     *Node
	open     Pos
	children []*Node
}

func newStreamParser(diags *Diagnostics, deliver func(*Node)) *streamParser {
	p := &streamParser{diags: diags, maxDepth: loadBudget.BlockDepth, deliver: deliver}
	p.frames = make([]parseFrame, 1, 8)
	return p
}

func (p *streamParser) depth() int { return len(p.frames) - 1 }

// feed takes the next token.
func (p *streamParser) feed(t Token) {
	if p.stopped {
		return
	}
	if n := p.stmt; n != nil {
		if p.afterEOL {
			// "keyword\n{" : the brace on the next line opens this block.
			p.afterEOL = false
			if t.Kind == TokOpen {
				p.stmt = nil
				n.HasBlock = true
				p.openBlock(n, t.Pos)
				return
			}
			p.finish()
		} else {
			switch t.Kind {
			case TokWord:
				p.args = append(p.args, t)
				return
			case TokOpen:
				p.takeArgs(n)
				p.stmt = nil
				n.HasBlock = true
				p.openBlock(n, t.Pos)
				return
			case TokEOL:
				p.takeArgs(n)
				p.afterEOL = true
				return
			case TokClose:
				p.finish() // the enclosing block consumes it
			}
		}
	}
	switch t.Kind {
	case TokEOL:
	case TokClose:
		if p.depth() > 0 {
			p.closeBlock()
			return
		}
		// keepalived 2.2.7: "Extra '}' found", dropped.
		p.diags.Skipf(t.Pos, "unexpected '}' with no open block; ignored, as keepalived ignores it")
	case TokOpen:
		p.diags.Errorf(t.Pos, "'{' without a keyword before it")
		p.openBlock(nil, t.Pos) // an anonymous block: skipped whole
	default:
		p.stmt = p.newNode(t)
	}
}

// openBlock enters the block of n (nil: an anonymous one) whose '{' is at
// pos, unless that is one level too many: then it reports it and stops.
func (p *streamParser) openBlock(n *Node, pos Pos) {
	if p.depth()+1 > p.maxDepth {
		p.diags.Errorf(pos, "configuration nests blocks deeper than %d levels", p.maxDepth)
		p.stopped = true
		if n != nil {
			p.complete(n)
		}
		return
	}
	p.frames = append(p.frames, parseFrame{node: n, open: pos})
}

func (p *streamParser) closeBlock() {
	f := p.frames[len(p.frames)-1]
	p.frames[len(p.frames)-1] = parseFrame{}
	p.frames = p.frames[:len(p.frames)-1]
	if f.node != nil {
		f.node.Children = f.children
		p.complete(f.node)
	}
}

// takeArgs gives n the arguments collected.
func (p *streamParser) takeArgs(n *Node) {
	k := len(p.args)
	if k == 0 {
		return
	}
	if k > slabSize/4 {
		n.Args = make([]Token, k)
	} else {
		if len(p.argSlab) < k {
			p.argSlab = make([]Token, slabSize)
		}
		// Capped at its length: a handler that appends to it copies.
		n.Args = p.argSlab[:k:k]
		p.argSlab = p.argSlab[k:]
	}
	copy(n.Args, p.args)
	clear(p.args)
	p.args = p.args[:0]
}

// finish ends the statement being read.
func (p *streamParser) finish() {
	n := p.stmt
	if !p.afterEOL {
		p.takeArgs(n)
	}
	p.stmt, p.afterEOL = nil, false
	p.complete(n)
}

// complete adds a finished statement to its block, or hands it over.
func (p *streamParser) complete(n *Node) {
	if len(p.frames) == 1 {
		p.deliver(n)
		return
	}
	f := &p.frames[len(p.frames)-1]
	f.children = append(f.children, n)
}

// end is the end of input: the statement being read ends, and every block
// still open is reported (innermost first) and closed with what it holds.
func (p *streamParser) end() {
	if p.stmt != nil {
		p.finish()
	}
	for p.depth() > 0 {
		if !p.stopped {
			// keepalived 2.2.7 reports the missing '}' at the end of
			// the file and runs with what the block holds.
			p.diags.Skipf(p.frames[len(p.frames)-1].open, "block opened here is never closed: missing '}'; read to the end of the configuration, as keepalived reads it")
		}
		p.closeBlock()
	}
}
