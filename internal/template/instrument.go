package template

import (
	"errors"
	"fmt"
	"strings"
	"text/template/parse"
)

// text/template has no limit on the steps a template takes: {{range}}
// over an integer, recursion through {{template}} and loops over growing
// values run as long as their input says. instrument rewrites the parsed
// tree before it runs, so that the executor reports its progress to the
// render's output writer (see output.Write):
//
//   - every {{range}} body starts with a step marker weighing the number of
//     nodes in the body, so an iteration costs what it executes (and at
//     least one step, for an empty body);
//   - every defined template (the main one, {{define}} and {{block}})
//     starts with a step marker for its own nodes and an enter marker, and
//     ends with a leave marker, so that each call of it costs steps and
//     the nesting of calls is bounded;
//   - when the template calls a function that changes a dict in place
//     (mutators), every action that prints a value pipes that value
//     through emitFunc first, which measures it (see sizeOf).
//
// Function calls take their steps in the function wrappers (limits.go).
//
// Template authors cannot remove or call the instrumentation: markers are
// not functions, and emitFunc is not among the functions a template is
// parsed with, so naming it in the source fails to parse.

// emitFunc is the name under which printing actions call the emit
// function. It is never in the parse-time function map.
const emitFunc = "_sealsync_emit"

var errHiddenName = errors.New("function " + emitFunc + " is not defined")

// mutators are the functions that grow a dict in place. Without them, a
// value's size never changes after its function returned it, and the
// wrappers have already measured it then. With them, a dict measured
// small can grow under a list that holds it many times, so every printed
// value is measured again (emitFunc).
var mutators = []string{"set", "merge", "mergeOverwrite", "mustMerge", "mustMergeOverwrite"}

// inspect walks every tree of a parsed template and returns the names of
// the functions it calls. It fails if blocks nest deeper than
// [MaxNesting], if a tree names emitFunc (which the parser already
// refuses; this holds even if that changes), or if a function of
// quotedArgs is called without a string literal where it needs one.
func inspect(trees map[string]*parse.Tree) (map[string]bool, error) {
	used := map[string]bool{}
	var walk func(n parse.Node, depth int) error
	walk = func(n parse.Node, depth int) error {
		if depth > MaxNesting {
			return ErrNestedTooDeep
		}
		if id, ok := n.(*parse.IdentifierNode); ok {
			if id.Ident == emitFunc {
				return errHiddenName
			}
			used[id.Ident] = true
		}
		if c, ok := n.(*parse.CommandNode); ok {
			if err := checkQuoted(c); err != nil {
				return err
			}
		}
		switch n.(type) {
		case *parse.ListNode, *parse.PipeNode:
			depth++
		}
		var err error
		Children(n, func(c parse.Node) {
			if err == nil {
				err = walk(c, depth)
			}
		})
		return err
	}
	for _, tr := range trees {
		if tr.Root == nil {
			continue
		}
		if err := walk(tr.Root, 0); err != nil {
			return nil, err
		}
	}
	return used, nil
}

// checkQuoted checks that a command calling a function of quotedArgs has
// a string literal at its position. A name that is not the command's
// first word is called with no arguments, which text/template refuses
// for these functions; an argument piped in comes last, after the
// command's own, so a command too short has it piped.
func checkQuoted(c *parse.CommandNode) error {
	if len(c.Args) == 0 {
		return nil
	}
	id, ok := c.Args[0].(*parse.IdentifierNode)
	if !ok {
		return nil
	}
	i, ok := quotedArgs[id.Ident]
	if !ok {
		return nil
	}
	if i < len(c.Args) {
		if _, ok := c.Args[i].(*parse.StringNode); ok {
			return nil
		}
	}
	return fmt.Errorf("%s takes argument %d as a quoted string", id.Ident, i)
}

// instrument adds the markers (and, with emit, the emitFunc calls) to
// every tree; see the top of this file.
func instrument(trees map[string]*parse.Tree, emit bool) {
	for _, tr := range trees {
		root := tr.Root
		if root == nil {
			continue
		}
		_, nesting := measureTree(root)
		nodes := instrumentNode(tr, root, emit)
		root.Nodes = append([]parse.Node{
			markerNode(root.Pos, stepMark, nodes),
			markerNode(root.Pos, enterMark, int64(nesting)+1),
		}, root.Nodes...)
		root.Nodes = append(root.Nodes, markerNode(root.Pos, leaveMark, int64(nesting)+1))
	}
}

// instrumentNode instruments the subtree under n and returns how many
// nodes it had. Counting on the way back up keeps this linear however
// deep ranges nest.
func instrumentNode(tr *parse.Tree, n parse.Node, emit bool) int64 {
	nodes := int64(1)
	if r, ok := n.(*parse.RangeNode); ok {
		nodes += instrumentNode(tr, r.Pipe, emit)
		body := instrumentNode(tr, r.List, emit)
		nodes += body
		if r.ElseList != nil {
			nodes += instrumentNode(tr, r.ElseList, emit)
		}
		r.List.Nodes = append([]parse.Node{markerNode(r.List.Pos, stepMark, body)}, r.List.Nodes...)
		return nodes
	}
	Children(n, func(c parse.Node) { nodes += instrumentNode(tr, c, emit) })
	if a, ok := n.(*parse.ActionNode); ok && emit && len(a.Pipe.Decl) == 0 {
		id := parse.NewIdentifier(emitFunc).SetTree(tr).SetPos(a.Pipe.Pos)
		a.Pipe.Cmds = append(a.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: a.Pipe.Pos, Args: []parse.Node{id}})
	}
	return nodes
}

// measureTree returns the number of nodes under n, n included, and how
// deep lists and pipelines nest under it.
func measureTree(n parse.Node) (nodes int64, nesting int) {
	nodes = 1
	Children(n, func(c parse.Node) {
		cn, cd := measureTree(c)
		nodes += cn
		nesting = max(nesting, cd)
	})
	switch n.(type) {
	case *parse.ListNode, *parse.PipeNode:
		nesting++
	}
	return nodes, nesting
}

func markerNode(pos parse.Pos, kind int, weight int64) *parse.TextNode {
	return &parse.TextNode{NodeType: parse.NodeText, Pos: pos, Text: marker(kind, weight)}
}

// Children calls f on each direct child of n, a node of a parsed
// text/template tree: what a walk over a template's nodes (the budget's
// instrumentation here, the Argo CD plugin's Helm guard) descends into.
func Children(n parse.Node, f func(parse.Node)) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			f(c)
		}
	case *parse.ActionNode:
		f(n.Pipe)
	case *parse.IfNode:
		branch(&n.BranchNode, f)
	case *parse.RangeNode:
		branch(&n.BranchNode, f)
	case *parse.WithNode:
		branch(&n.BranchNode, f)
	case *parse.TemplateNode:
		if n.Pipe != nil {
			f(n.Pipe)
		}
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Decl {
			f(c)
		}
		for _, c := range n.Cmds {
			f(c)
		}
	case *parse.CommandNode:
		for _, c := range n.Args {
			f(c)
		}
	case *parse.ChainNode:
		f(n.Node)
	}
}

func branch(b *parse.BranchNode, f func(parse.Node)) {
	f(b.Pipe)
	f(b.List)
	if b.ElseList != nil {
		f(b.ElseList)
	}
}

// scanNesting reports whether the block actions of text nest deeper than
// [MaxNesting], before the parser, which recurses once per level, sees
// it. It follows the lexer far enough to skip comments and the quoted
// strings inside actions, where "{{end}}" is no action, and counts an
// "else if" or "else with" as a level, as the parser does; it may count
// too deep, never too shallow, where text would not parse anyway.
func scanNesting(text string) bool {
	var open []int // per open block: the levels its else-if chain adds
	depth := 0
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			return false
		}
		text = text[i+2:]
		if len(text) >= 2 && text[0] == '-' && isSpace(text[1]) {
			text = text[2:]
		}
		text = strings.TrimLeft(text, " \t\r\n")
		if strings.HasPrefix(text, "/*") {
			j := strings.Index(text, "*/")
			if j < 0 {
				return false
			}
			text = text[j+2:]
			continue
		}
		word, rest := keyword(text)
		switch word {
		case "if", "range", "with", "define", "block":
			open = append(open, 1)
			depth++
		case "else":
			if next, _ := keyword(strings.TrimLeft(rest, " \t\r\n")); (next == "if" || next == "with") && len(open) > 0 {
				open[len(open)-1]++
				depth++
			}
		case "end":
			if len(open) > 0 {
				depth -= open[len(open)-1]
				open = open[:len(open)-1]
			}
		}
		if depth > MaxNesting {
			return true
		}
		text = skipAction(rest)
	}
}

// keyword returns the identifier text starts with and the rest.
func keyword(text string) (string, string) {
	i := 0
	for i < len(text) && (text[i] >= 'a' && text[i] <= 'z') {
		i++
	}
	if i < len(text) && (isAlnum(text[i]) || text[i] == '_') {
		return "", text // a longer name, such as "ifx"
	}
	return text[:i], text[i:]
}

// skipAction returns what follows the action text is in, skipping its
// quoted strings and character constants.
func skipAction(text string) string {
	for i := 0; i < len(text); i++ {
		switch c := text[i]; c {
		case '}':
			if i+1 < len(text) && text[i+1] == '}' {
				return text[i+2:]
			}
		case '"', '\'', '`':
			for i++; i < len(text) && text[i] != c; i++ {
				if c != '`' && text[i] == '\\' {
					i++
				}
			}
		}
	}
	return ""
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
