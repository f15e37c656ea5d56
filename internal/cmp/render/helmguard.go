package render

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	gotemplate "text/template"
	"text/template/parse"

	"github.com/sealsync/sealsync/internal/template"

	"github.com/Masterminds/sprig/v3"
)

// Helm's engine runs a chart's templates with text/template and Sprig,
// with no limit: {{range}} over a large integer, `until 100000000`,
// recursive includes, `repeat`, a list nested in itself and printed, all
// run as long and allocate as much as the chart says. The engine takes no
// context and no writer of ours, so the guard works on the templates
// themselves and on the functions they may call:
//
//   - Every template is parsed and rewritten before Helm sees it
//     (instrument): each {{range}} body and each template (the file's,
//     and each {{define}}, so each include call) starts with a step
//     marker charging its size; every printed value passes through
//     guardEmit, which measures it against the output budget; every
//     argument given to a function passes through guardArg, which
//     measures it (a value nested in itself, built cheaply by list or
//     dict, costs its printed size here, before toYaml or deepCopy would
//     spend it); and the text given to tpl is rewritten the same way
//     before tpl parses it (guardTpl).
//   - The functions whose work or output can outgrow their arguments
//     (until, untilStep, seq, repeat, indent, nindent, printf with large
//     widths, replace, regexReplaceAll, rand*, and key generation and
//     password hashing, which are slow) are replaced by versions that
//     charge or refuse first (guardedFuncs). env and expandenv stay
//     removed, and getHostByName resolves nothing, as in Helm.
//   - Every charge checks the context every few hundred calls, so a
//     render past its deadline stops at its next step.
//
// What this does not bound: one call of a function that is slow on small
// input and not listed above, and Helm's own work outside templates
// (loading the chart, merging values, sorting the output), which is
// linear in the files read, themselves bounded by [Limits].
//
// The markers are functions named with guardPrefix; templates that name
// such a function themselves are refused, so a chart cannot call them.

const (
	guardPrefix = "_sealsync_"
	stepFunc    = guardPrefix + "step"
	emitFunc    = guardPrefix + "emit"
	argFunc     = guardPrefix + "arg"
	tplFunc     = guardPrefix + "tpl"

	// bytesPerStep is how many bytes of a value measured, or of
	// template source parsed, cost one step.
	bytesPerStep = 64
	// maxValueSize is the largest value a function may take or a
	// template may print at once, in bytes as printed (roughly).
	maxValueSize = 16 << 20
	// maxPad bounds printf's widths and precisions.
	maxPad = 4096
	// ctxCheckEvery is how many charges pass between two looks at the
	// context.
	ctxCheckEvery = 256
)

// Weights, in steps, of the functions that are slow on small input.
const (
	weightRSAKey    = 2_000_000 // an RSA key of 2048 bits, or more
	weightECKey     = 5_000
	weightBcrypt    = 300_000 // cost 10, as Sprig uses it
	weightScrypt    = 300_000 // derivePassword's scrypt
	weightCertSign  = 10_000
	weightRandPerKB = 100
)

// ErrTemplateBudget is wrapped by ErrLimit errors from Helm templates.
var errTemplateBudget = fmt.Errorf("%w: Helm template budget", ErrLimit)

// templateMeter is the budget of one Helm render's templates. Helm runs
// a render's templates one after the other on one goroutine; the meter is
// not safe for concurrent use.
type templateMeter struct {
	ctx      context.Context
	maxSteps int64
	maxOut   int64
	steps    int64
	out      int64
	calls    int
	err      error
}

func newTemplateMeter(ctx context.Context, l Limits) *templateMeter {
	return &templateMeter{ctx: ctx, maxSteps: l.MaxTemplateSteps, maxOut: l.MaxOutputSize}
}

// charge takes steps (at least one) and out bytes of output. Once over
// budget, every later charge fails the same way.
func (m *templateMeter) charge(steps, out int64) error {
	if m.err != nil {
		return m.err
	}
	m.steps += max(steps, 1)
	m.out += max(out, 0)
	switch {
	case m.steps > m.maxSteps:
		m.err = fmt.Errorf("%w: more than %d steps", errTemplateBudget, m.maxSteps)
	case m.out > m.maxOut:
		m.err = fmt.Errorf("%w: more than %d bytes of output", errTemplateBudget, m.maxOut)
	}
	if m.calls++; m.calls%ctxCheckEvery == 0 && m.err == nil {
		if err := m.ctx.Err(); err != nil {
			m.err = fmt.Errorf("helm templates: %w", context.Cause(m.ctx))
		}
	}
	return m.err
}

// measure charges a value's size, failing past maxValueSize.
func (m *templateMeter) measure(v any, out bool) error {
	n, ok := sizeOf(reflect.ValueOf(v), maxValueSize)
	if !ok {
		m.err = fmt.Errorf("%w: a value larger than %d bytes", errTemplateBudget, maxValueSize)
		return m.err
	}
	o := int64(0)
	if out {
		o = n
	}
	return m.charge(1+n/bytesPerStep, o)
}

// sizeOf estimates how large v prints, walking it without recursion and
// giving up past limit, so a list holding itself many times over (which
// costs nothing to build) is measured in at most limit steps.
func sizeOf(v reflect.Value, limit int64) (int64, bool) {
	var n int64
	stack := []reflect.Value{v}
	for len(stack) > 0 {
		if n > limit {
			return n, false
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n += 2
		switch v.Kind() {
		case reflect.Invalid:
		case reflect.Interface, reflect.Pointer:
			if !v.IsNil() {
				stack = append(stack, v.Elem())
			}
		case reflect.String:
			n += int64(v.Len())
		case reflect.Slice, reflect.Array:
			if v.Type().Elem().Kind() == reflect.Uint8 {
				n += int64(v.Len())
				continue
			}
			for i := range v.Len() {
				stack = append(stack, v.Index(i))
			}
		case reflect.Map:
			it := v.MapRange()
			for it.Next() {
				stack = append(stack, it.Key(), it.Value())
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if v.Type().Field(i).IsExported() {
					stack = append(stack, v.Field(i))
				}
			}
		default:
			n += 8
		}
	}
	return n, n <= limit
}

// cheapFuncs take values (often the whole context) without walking them,
// so their arguments are not measured: include and tpl hand them to
// templates, which are metered themselves; the others look at one level.
var cheapFuncs = map[string]bool{
	"include": true, "tpl": true, "default": true, "empty": true, "required": true,
	"hasKey": true, "get": true, "pluck": true, "dig": true, "kindIs": true, "kindOf": true,
	"typeOf": true, "typeIs": true, "typeIsLike": true, "ternary": true, "coalesce": true,
	"and": true, "or": true, "not": true, "len": true, "index": true, "slice": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true, "call": true,
	"fail": true, "lookup": true, "list": true, "dict": true, "set": true, "unset": true,
	"keys": true, "first": true, "last": true, "rest": true, "initial": true,
}

// errReservedName refuses templates naming the guard's functions.
var errReservedName = fmt.Errorf("%w: names starting with %q are reserved", ErrNotAllowed, guardPrefix)

// instrument rewrites one template file (or tpl text) so that it reports
// to the meter: see the top of this file. It returns the rewritten source
// and the steps its parsing costs.
func instrument(name, text string) (string, error) {
	treeSet := map[string]*parse.Tree{}
	t := parse.New(name)
	t.Mode = parse.SkipFuncCheck
	if _, err := t.Parse(text, "", "", treeSet); err != nil {
		return "", err
	}
	var b strings.Builder
	// The file's own template first, then its definitions.
	names := make([]string, 0, len(treeSet))
	for n := range treeSet {
		if n != name {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if main := treeSet[name]; main != nil && main.Root != nil {
		if err := rewriteTree(main); err != nil {
			return "", err
		}
		b.WriteString(main.Root.String())
	}
	for _, n := range names {
		tr := treeSet[n]
		if err := rewriteTree(tr); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "{{define %q}}%s{{end}}", n, tr.Root.String())
	}
	return b.String(), nil
}

// rewriteTree instruments one parsed template in place.
func rewriteTree(tr *parse.Tree) error {
	if tr.Root == nil {
		return nil
	}
	var err error
	nodes, text := measureNodes(tr.Root)
	rewriteNode(tr, tr.Root, &err)
	tr.Root.Nodes = append([]parse.Node{stepAction(tr, tr.Root.Position(), nodes, text)}, tr.Root.Nodes...)
	return err
}

// measureNodes counts the nodes under n and the bytes of its text.
func measureNodes(n parse.Node) (nodes, text int64) {
	nodes = 1
	if t, ok := n.(*parse.TextNode); ok {
		text = int64(len(t.Text))
	}
	template.Children(n, func(c parse.Node) {
		cn, ct := measureNodes(c)
		nodes += cn
		text += ct
	})
	return nodes, text
}

func rewriteNode(tr *parse.Tree, n parse.Node, err *error) {
	switch n := n.(type) {
	case *parse.IdentifierNode:
		if strings.HasPrefix(n.Ident, guardPrefix) {
			*err = errReservedName
		}
	case *parse.RangeNode:
		nodes, text := measureNodes(n.List)
		defer func() {
			n.List.Nodes = append([]parse.Node{stepAction(tr, n.List.Position(), nodes, text)}, n.List.Nodes...)
		}()
	case *parse.PipeNode:
		defer rewritePipe(tr, n)
	case *parse.ActionNode:
		defer func() {
			if len(n.Pipe.Decl) == 0 {
				n.Pipe.Cmds = append(n.Pipe.Cmds, command(tr, n.Position(), identifier(tr, n.Position(), emitFunc)))
			}
		}()
	}
	template.Children(n, func(c parse.Node) { rewriteNode(tr, c, err) })
}

// rewritePipe measures what functions take: each argument of a function
// call, the value piped into a function, and the text given to tpl.
func rewritePipe(tr *parse.Tree, p *parse.PipeNode) {
	var cmds []*parse.CommandNode
	for i, c := range p.Cmds {
		fn := funcName(c)
		if fn != "" && !cheapFuncs[fn] {
			for j := 1; j < len(c.Args); j++ {
				c.Args[j] = wrapArg(tr, argFunc, c.Args[j])
			}
			if i > 0 {
				// The previous command's value is this one's last
				// argument.
				cmds = append(cmds, command(tr, c.Position(), identifier(tr, c.Position(), argFunc)))
			}
		}
		if fn == "tpl" && len(c.Args) > 1 {
			c.Args[1] = wrapArg(tr, tplFunc, c.Args[1])
		}
		cmds = append(cmds, c)
	}
	p.Cmds = cmds
}

// funcName returns the function a command calls, or "" when it starts
// with a field, a variable or a value.
func funcName(c *parse.CommandNode) string {
	if len(c.Args) == 0 {
		return ""
	}
	if id, ok := c.Args[0].(*parse.IdentifierNode); ok {
		return id.Ident
	}
	return ""
}

// wrapArg returns (fn arg), unless arg is a constant.
func wrapArg(tr *parse.Tree, fn string, arg parse.Node) parse.Node {
	switch arg.(type) {
	case *parse.StringNode, *parse.NumberNode, *parse.BoolNode, *parse.NilNode:
		if fn == argFunc {
			return arg
		}
	}
	pos := arg.Position()
	return &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{command(tr, pos, identifier(tr, pos, fn), arg)}}
}

func identifier(tr *parse.Tree, pos parse.Pos, name string) *parse.IdentifierNode {
	return parse.NewIdentifier(name).SetTree(tr).SetPos(pos)
}

func command(_ *parse.Tree, pos parse.Pos, args ...parse.Node) *parse.CommandNode {
	return &parse.CommandNode{NodeType: parse.NodeCommand, Pos: pos, Args: args}
}

// stepAction is {{_sealsync_step NODES TEXT}}, which prints nothing.
func stepAction(tr *parse.Tree, pos parse.Pos, nodes, text int64) parse.Node {
	num := func(v int64) *parse.NumberNode {
		s := fmt.Sprint(v)
		return &parse.NumberNode{NodeType: parse.NodeNumber, Pos: pos, IsInt: true, Int64: v, Text: s}
	}
	pipe := &parse.PipeNode{NodeType: parse.NodePipe, Pos: pos, Cmds: []*parse.CommandNode{command(tr, pos, identifier(tr, pos, stepFunc), num(nodes), num(text))}}
	return &parse.ActionNode{NodeType: parse.NodeAction, Pos: pos, Pipe: pipe}
}

// guardedFuncs returns the functions Helm's engine gets on top of its
// own (Engine.CustomTemplateFuncs, which override them): the meter's
// markers and the bounded versions of the functions that can outgrow
// their arguments.
func (m *templateMeter) guardedFuncs() gotemplate.FuncMap {
	sp := sprig.TxtFuncMap()
	fm := gotemplate.FuncMap{
		stepFunc: func(nodes, text int64) (string, error) {
			return "", m.charge(nodes+text/bytesPerStep, text)
		},
		emitFunc: func(v any) (any, error) { return v, m.measure(v, true) },
		argFunc:  func(v any) (any, error) { return v, m.measure(v, false) },
		tplFunc: func(text string) (string, error) {
			if err := m.charge(1+int64(len(text))/bytesPerStep, 0); err != nil {
				return "", err
			}
			out, err := instrument("tpl", text)
			if errors.Is(err, errReservedName) {
				return "", err
			}
			if err != nil {
				// Helm's tpl reports the same parse error.
				return text, nil
			}
			return out, nil
		},
		// As Helm with DNS lookups off.
		"getHostByName": func(string) string { return "" },
	}
	count := func(n int) error {
		if n < 0 {
			n = 0
		}
		if int64(n)*8 > maxValueSize {
			return fmt.Errorf("%w: a list of %d items", errTemplateBudget, n)
		}
		return m.charge(int64(n)/8, 0)
	}
	growth := func(n int64) error {
		if n > maxValueSize {
			return fmt.Errorf("%w: a value larger than %d bytes", errTemplateBudget, maxValueSize)
		}
		return m.charge(1+n/bytesPerStep, 0)
	}
	until := sp["until"].(func(int) []int)
	fm["until"] = func(n int) ([]int, error) {
		if err := count(n); err != nil {
			return nil, err
		}
		return until(n), nil
	}
	untilStep := sp["untilStep"].(func(int, int, int) []int)
	fm["untilStep"] = func(start, stop, step int) ([]int, error) {
		n := 0
		if step != 0 {
			n = (stop - start) / step
		}
		if err := count(n); err != nil {
			return nil, err
		}
		return untilStep(start, stop, step), nil
	}
	seq := sp["seq"].(func(...int) string)
	fm["seq"] = func(p ...int) (string, error) {
		span := 0
		switch len(p) {
		case 1:
			span = p[0]
		case 2:
			span = p[1] - p[0]
		case 3:
			if p[1] != 0 {
				span = (p[2] - p[0]) / p[1]
			}
		}
		if span < 0 {
			span = -span
		}
		if err := count(span * 2); err != nil {
			return "", err
		}
		return seq(p...), nil
	}
	repeat := sp["repeat"].(func(int, string) string)
	fm["repeat"] = func(n int, s string) (string, error) {
		if err := growth(int64(max(n, 0)) * int64(len(s))); err != nil {
			return "", err
		}
		return repeat(n, s), nil
	}
	indent := sp["indent"].(func(int, string) string)
	indentSize := func(n int, s string) int64 {
		return int64(len(s)) + int64(max(n, 0))*int64(strings.Count(s, "\n")+1)
	}
	fm["indent"] = func(n int, s string) (string, error) {
		if err := growth(indentSize(n, s)); err != nil {
			return "", err
		}
		return indent(n, s), nil
	}
	nindent := sp["nindent"].(func(int, string) string)
	fm["nindent"] = func(n int, s string) (string, error) {
		if err := growth(indentSize(n, s) + 1); err != nil {
			return "", err
		}
		return nindent(n, s), nil
	}
	replace := sp["replace"].(func(string, string, string) string)
	fm["replace"] = func(old, new, src string) (string, error) {
		k := int64(len(src) + 1)
		if old != "" {
			k = int64(strings.Count(src, old))
		}
		if err := growth(int64(len(src)) + k*int64(len(new))); err != nil {
			return "", err
		}
		return replace(old, new, src), nil
	}
	for _, name := range []string{"regexReplaceAll", "regexReplaceAllLiteral"} {
		orig := sp[name].(func(string, string, string) string)
		fm[name] = func(regex, s, repl string) (string, error) {
			if err := growth(regexGrowth(s, repl)); err != nil {
				return "", err
			}
			return orig(regex, s, repl), nil
		}
	}
	for _, name := range []string{"mustRegexReplaceAll", "mustRegexReplaceAllLiteral"} {
		orig := sp[name].(func(string, string, string) (string, error))
		fm[name] = func(regex, s, repl string) (string, error) {
			if err := growth(regexGrowth(s, repl)); err != nil {
				return "", err
			}
			return orig(regex, s, repl)
		}
	}
	fm["printf"] = func(format string, args ...any) (string, error) {
		if err := checkPrintf(format); err != nil {
			return "", err
		}
		return fmt.Sprintf(format, args...), nil
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randNumeric", "randAscii"} {
		orig := sp[name].(func(int) string)
		fm[name] = func(n int) (string, error) {
			if err := growth(int64(max(n, 0)) * 4); err != nil {
				return "", err
			}
			if err := m.charge(int64(max(n, 0))/1024*weightRandPerKB, 0); err != nil {
				return "", err
			}
			return orig(n), nil
		}
	}
	randBytes := sp["randBytes"].(func(int) (string, error))
	fm["randBytes"] = func(n int) (string, error) {
		if err := growth(int64(max(n, 0)) * 2); err != nil {
			return "", err
		}
		return randBytes(n)
	}
	// Slow functions: charged their weight before they run.
	for name, weight := range map[string]int64{
		"derivePassword": weightScrypt, "htpasswd": weightBcrypt, "bcrypt": weightBcrypt,
		"genCA": weightRSAKey, "genCAWithKey": weightCertSign, "genSelfSignedCert": weightRSAKey,
		"genSelfSignedCertWithKey": weightCertSign, "genSignedCert": weightRSAKey,
		"genSignedCertWithKey": weightCertSign, "buildCustomCert": weightCertSign,
	} {
		if orig, ok := sp[name]; ok {
			fm[name] = weighted(m, weight, orig)
		}
	}
	genPrivateKey := sp["genPrivateKey"].(func(string) string)
	fm["genPrivateKey"] = func(typ string) (string, error) {
		w := int64(weightECKey)
		if typ == "" || strings.HasPrefix(typ, "rsa") || typ == "dsa" {
			w = weightRSAKey
		}
		if err := m.charge(w, 0); err != nil {
			return "", err
		}
		return genPrivateKey(typ), nil
	}
	return fm
}

// weighted returns fn, which must be a func, charging weight steps before
// each call. The result has fn's parameters and returns fn's value and an
// error.
func weighted(m *templateMeter, weight int64, fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	ins := make([]reflect.Type, ft.NumIn())
	for i := range ins {
		ins[i] = ft.In(i)
	}
	errType := reflect.TypeFor[error]()
	wt := reflect.FuncOf(ins, []reflect.Type{ft.Out(0), errType}, ft.IsVariadic())
	return reflect.MakeFunc(wt, func(args []reflect.Value) []reflect.Value {
		zero := reflect.Zero(ft.Out(0))
		if err := m.charge(weight, 0); err != nil {
			return []reflect.Value{zero, reflect.ValueOf(&err).Elem()}
		}
		var res []reflect.Value
		if ft.IsVariadic() {
			res = fv.CallSlice(args)
		} else {
			res = fv.Call(args)
		}
		errv := reflect.Zero(errType)
		if len(res) > 1 {
			errv = res[1]
		}
		return []reflect.Value{res[0], errv}
	}).Interface()
}

// regexGrowth bounds what replacing every match of a regular expression
// in s by repl may produce: at most one match per position, each expanding
// to repl with its $ references each up to the whole of s.
func regexGrowth(s, repl string) int64 {
	per := int64(len(repl)) + int64(strings.Count(repl, "$"))*int64(len(s))
	return int64(len(s)) + int64(len(s)+1)*per
}

// printfWidth finds the widths and precisions of a printf format.
var printfWidth = regexp.MustCompile(`%[-+# 0]*(\*|\d+)?(?:\.(\*|\d+))?`)

// checkPrintf refuses widths or precisions over maxPad, and * (taken
// from an argument), which could make one verb print gigabytes.
func checkPrintf(format string) error {
	for _, m := range printfWidth.FindAllStringSubmatch(format, -1) {
		for _, w := range m[1:] {
			if w == "*" {
				return fmt.Errorf("%w: printf widths from arguments (*) are not allowed", errTemplateBudget)
			}
			if len(w) > 5 || (w != "" && atoi(w) > maxPad) {
				return fmt.Errorf("%w: printf width over %d", errTemplateBudget, maxPad)
			}
		}
	}
	return nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
