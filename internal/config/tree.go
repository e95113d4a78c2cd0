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
	// arena is where statements, their arguments and their blocks'
	// statement lists are carved from. parseTree keeps every statement
	// in one; Load's statement pipe hands an arena to the builder with
	// the statements carved from it and installs another, and the
	// builder resets it once it has built them (stmtPipe): the builder
	// keeps nothing of a statement (no *Node, []Token or []*Node; the
	// strings are the lexer's and stay).
	arena *parseArena
}

// parseArena holds the slabs statements, their arguments and their
// blocks' statement lists are carved from: one allocation per hundreds of
// them instead of one each, and none at all once the slabs are reset and
// carved again (a load allocated as much again in statements as the
// model is, garbage for the collector, before they were).
type parseArena struct {
	nodes    slabs[Node]
	argv     slabs[Token]
	children slabs[*Node]
	// model counts the statements carved that make model objects the
	// builder can have allocated ahead (modelAhead).
	model modelCount
	// args counts the arguments given to statements, in the slabs or not.
	args int
}

func (a *parseArena) reset() {
	a.nodes.reset()
	a.argv.reset()
	a.children.reset()
	a.model = modelCount{}
	a.args = 0
}

// slabs hands out runs of T from fixed-size slabs, which are kept and
// handed out again after reset.
type slabs[T any] struct {
	all  [][]T
	i, j int // the slab being carved and the first free element in it
}

const slabSize = 256

// take is k consecutive zero elements, capped at k (a handler that appends
// to them copies); k past slabSize/4 gets an allocation of its own.
func (s *slabs[T]) take(k int) []T {
	if k > slabSize/4 {
		return make([]T, k)
	}
	if s.i == len(s.all) || s.j+k > len(s.all[s.i]) {
		if s.i < len(s.all) {
			s.i++
		}
		s.j = 0
		if s.i == len(s.all) {
			s.all = append(s.all, make([]T, slabSize))
		}
	}
	r := s.all[s.i][s.j : s.j+k : s.j+k]
	s.j += k
	return r
}

// slabsKept bounds the slabs reset keeps: a statement of thousands of
// statements (hostile input, mostly) leaves the rest to the collector
// rather than in each arena for the rest of the load.
const slabsKept = 8

// reset makes every element taken so far free again, zeroed.
func (s *slabs[T]) reset() {
	if s.i < len(s.all) {
		clear(s.all[s.i][:s.j])
	}
	for _, sl := range s.all[:min(s.i, len(s.all))] {
		clear(sl)
	}
	if len(s.all) > slabsKept {
		clear(s.all[slabsKept:])
		s.all = s.all[:slabsKept]
	}
	s.i, s.j = 0, 0
}

// newNode is a statement from the slab.
func (p *streamParser) newNode(kw Token) *Node {
	n := &p.arena.nodes.take(1)[0]
	n.Key, n.KeyTok = kw.Text, kw
	p.arena.model.count(kw.Text)
	return n
}

type parseFrame struct {
	node     *Node
	open     Pos
	children []*Node
}

func newStreamParser(diags *Diagnostics, deliver func(*Node)) *streamParser {
	p := &streamParser{diags: diags, maxDepth: loadBudget.BlockDepth, deliver: deliver, arena: &parseArena{}}
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
	// A frame keeps its list's array when it is closed, for the next
	// block opened at its depth.
	if len(p.frames) < cap(p.frames) {
		p.frames = p.frames[:len(p.frames)+1]
		f := &p.frames[len(p.frames)-1]
		f.node, f.open = n, pos
		return
	}
	p.frames = append(p.frames, parseFrame{node: n, open: pos})
}

func (p *streamParser) closeBlock() {
	f := &p.frames[len(p.frames)-1]
	n, children := f.node, f.children
	if n != nil && len(children) > 0 {
		n.Children = p.arena.children.take(len(children))
		copy(n.Children, children)
	}
	clear(children)
	f.node, f.children = nil, children[:0]
	p.frames = p.frames[:len(p.frames)-1]
	if n != nil {
		p.complete(n)
	}
}

// takeArgs gives n the arguments collected.
func (p *streamParser) takeArgs(n *Node) {
	k := len(p.args)
	if k == 0 {
		return
	}
	n.Args = p.arena.argv.take(k)
	p.arena.args += k
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
