// Package template renders the Go templates of SealedSecret
// spec.template.data and ExternalSecret target.template: text/template with
// the Sprig functions, minus everything that can look outside the template's
// own input.
//
// # What is removed and why
//
// Templates come from Git and run inside the controller, which holds every
// secret of the cluster. A template must not learn anything its author could
// not already read, so the functions that read the controller's environment
// (env, expandenv), resolve names on its network (getHostByName) or are
// otherwise impure are not available. There is no function that reads a
// file, a Kubernetes object or a URL. What a template can see is exactly the
// data its caller passes.
//
// # Engines
//
// [Default] renders SealedSecret templates: the safe Sprig functions, as
// Bitnami's controller offers them. [ESO] renders ExternalSecret templates:
// the same plus ESO's engine v2 functions (PEM, PKCS#12, JWK, YAML) and
// sealsync's avp and avpHas (argocd-vault-plugin placeholders, for the Argo
// CD plugin's reference mode), with ESO's missingkey=error. [Engine.Option]
// derives variants.
//
// # Limits
//
// A template's source is capped at [MaxSourceSize]. Everything else is a
// [Budget] for one object's render, which all its templates share:
// [MaxSteps] steps (node executions, function calls, bytes processed,
// source parsed; CPU-heavy functions weigh more) and [MaxRenderSize]
// bytes of output in all. No function may take or return a value larger
// than that, functions whose output can outgrow their input many times
// (repeat, replace, printf widths, regular expression replacements, ...)
// are refused before they allocate, and blocks and {{template}} calls
// nest at most [MaxNesting] deep. A PKCS#12 archive given to pkcs12key or
// pkcs12cert is read before it is decoded: its key derivations,
// decryptions and bags are charged, and an archive needing more than
// [MaxPKCS12Iterations] derivation rounds or holding more than
// [MaxPKCS12Bags] bags is refused. A render over its budget fails with an
// error wrapping [ErrBudgetExceeded], the same way each time it is tried
// on the same input. See limits.go for how each function is bounded, and
// instrument.go for how the steps of {{range}} and {{template}} are
// counted.
package template

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	gotemplate "text/template"
	"text/template/parse"

	"github.com/Masterminds/sprig/v3"
)

// MaxSourceSize is the largest template source in bytes.
const MaxSourceSize = 1 << 20

// removed are the Sprig functions a template may not call.
var removed = []string{
	"env", "expandenv", // the controller's environment
	"getHostByName", // DNS lookups from inside the cluster
}

var baseFuncs = sync.OnceValue(func() gotemplate.FuncMap {
	fm := gotemplate.FuncMap(sprig.TxtFuncMap())
	for _, name := range removed {
		delete(fm, name)
	}
	return fm
})

// builtins names the text/template builtins, which every template may
// call besides its engine's functions, for the parser (which only checks
// that a name's value is not nil).
var builtins = func() map[string]any {
	m := maps.Clone(formatting)
	for _, name := range []string{"and", "or", "not", "call", "index", "slice", "len", "eq", "ne", "lt", "le", "gt", "ge"} {
		m[name] = true
	}
	return m
}()

// formatting are the builtins that format their arguments: they are bound
// to the budget like any function (their own implementations, wrapped).
// The other builtins allocate nothing that grows.
var formatting = map[string]any{
	"print": fmt.Sprint, "printf": fmt.Sprintf, "println": fmt.Sprintln,
	"html": gotemplate.HTMLEscaper, "js": gotemplate.JSEscaper, "urlquery": gotemplate.URLQueryEscaper,
}

// Funcs returns a copy of the functions every template may call, besides
// the text/template builtins.
func Funcs() gotemplate.FuncMap { return maps.Clone(baseFuncs()) }

// Engine renders templates with the safe functions plus its own extras.
// The zero value is not usable; use [New]. An Engine is safe for concurrent
// use.
type Engine struct {
	funcs gotemplate.FuncMap
	// plain names the extras that replace a Sprig function: they get the
	// generic budget wrapper, not the one written for Sprig's.
	plain   map[string]bool
	options []string
}

// New returns an engine with the safe Sprig functions and extra, whose
// entries override Sprig's of the same name. It is an error for extra to
// bring back a removed function. Extra functions are bound to the budget
// like Sprig's: their arguments and result count, so they must cost
// about linear time in those; and they must not change their arguments
// in place.
func New(extra gotemplate.FuncMap) (*Engine, error) {
	fm := Funcs()
	plain := map[string]bool{}
	for name, fn := range extra {
		if slices.Contains(removed, name) {
			return nil, fmt.Errorf("template: function %q is not allowed", name)
		}
		if _, ok := fm[name]; ok {
			plain[name] = true
		}
		fm[name] = fn
	}
	return &Engine{funcs: fm, plain: plain, options: []string{"missingkey=default"}}, nil
}

// Option returns a copy of e whose templates are parsed with the
// text/template options opts (such as "missingkey=error") after e's own.
func (e *Engine) Option(opts ...string) *Engine {
	return &Engine{funcs: e.funcs, plain: e.plain, options: append(slices.Clone(e.options), opts...)}
}

// Default is the engine of SealedSecret templates: the safe Sprig functions
// only, as Bitnami's controller offers.
var Default = sync.OnceValue(func() *Engine {
	e, err := New(nil)
	if err != nil {
		panic(err)
	}
	return e
})

// Template is a parsed template, bound to the budget of the render it is
// part of. It is not safe for concurrent use.
type Template struct {
	t *gotemplate.Template
	b *Budget
}

// Parse parses a template named name, charging b for the parse, and binds
// it to b: its executions draw from b. The name appears in errors. A nil
// b stands for a budget of this template's own.
func (e *Engine) Parse(b *Budget, name, text string) (*Template, error) {
	if len(text) > MaxSourceSize {
		return nil, fmt.Errorf("template %q: source exceeds %d bytes", name, MaxSourceSize)
	}
	if b == nil {
		b = NewBudget()
	}
	if err := b.step(1 + int64(len(text))/sourceBytesPerStep); err != nil {
		return nil, fmt.Errorf("parse template %q: %w", name, err)
	}
	// The parser recurses once per nested block, before anything else
	// can look at the tree.
	if scanNesting(text) {
		return nil, fmt.Errorf("parse template %q: %w", name, ErrNestedTooDeep)
	}
	trees, err := parse.Parse(name, text, "", "", e.funcs, builtins)
	if err != nil {
		return nil, fmt.Errorf("parse template %q: %w", name, err)
	}
	used, err := inspect(trees)
	if err != nil {
		return nil, fmt.Errorf("parse template %q: %w", name, err)
	}
	emit := slices.ContainsFunc(mutators, func(name string) bool { return used[name] })
	instrument(trees, emit)

	t := gotemplate.New(name).Option(e.options...)
	for n, tr := range trees {
		if _, err := t.AddParseTree(n, tr); err != nil {
			return nil, fmt.Errorf("parse template %q: %w", name, err)
		}
	}
	// Only the functions this template calls are bound: binding all of
	// them would cost more than many a render.
	fm := gotemplate.FuncMap{}
	for n := range used {
		if fn, ok := e.funcs[n]; ok {
			fm[n] = bind(n, fn, b, e.plain[n])
		} else if fn, ok := formatting[n]; ok {
			fm[n] = bind(n, fn, b, false)
		}
	}
	if emit {
		fm[emitFunc] = emitter(b)
	}
	t.Funcs(fm)
	return &Template{t: t, b: b}, nil
}

// Execute parses and runs one template over data, drawing from b (nil: a
// budget of its own).
//
// Errors say where the template failed, never what it rendered, so that an
// error message cannot carry secret bytes: text/template execution errors
// name the failing action and its source position, and this function adds
// nothing from data. Panics in template functions become errors.
func (e *Engine) Execute(b *Budget, name, text string, data any) ([]byte, error) {
	t, err := e.Parse(b, name, text)
	if err != nil {
		return nil, err
	}
	return t.Execute(data)
}

// Execute runs the template over data, drawing from its budget.
func (t *Template) Execute(data any) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("execute template %q: function panicked", t.t.Name())
		}
	}()
	w := &output{b: t.b}
	if err := t.t.Execute(w, data); err != nil {
		if errors.Is(err, ErrBudgetExceeded) {
			return nil, fmt.Errorf("execute template %q: %w", t.t.Name(), budgetError(err))
		}
		return nil, fmt.Errorf("execute template %q: %w", t.t.Name(), scrub(err))
	}
	return w.buf.Bytes(), nil
}

// budgetError keeps where a function call went over the budget and why.
// Budget errors are this package's own and name limits, not values.
func budgetError(err error) error {
	var ee gotemplate.ExecError
	if !errors.As(err, &ee) {
		return err
	}
	cause := errors.Unwrap(ee.Err)
	if cause == nil || !errors.Is(cause, ErrBudgetExceeded) {
		cause = ErrBudgetExceeded
	}
	return fmt.Errorf("%s: %w", execErrorLocation(ee), cause)
}

// scrub keeps only what a template execution error says about the
// template. text/template's ExecError names the template, position and
// action; errors returned by functions such as fail or b64dec may quote their
// input, which can be secret, so those are replaced by a generic message.
func scrub(err error) error {
	var ee gotemplate.ExecError
	if errors.As(err, &ee) {
		return errors.New(execErrorLocation(ee))
	}
	return errors.New("template execution failed")
}

// emitter returns the function that printing actions pipe their value
// through when a template changes dicts in place (see instrument): it
// measures the value before text/template formats it whole in memory.
func emitter(b *Budget) func(reflect.Value) (reflect.Value, error) {
	return func(v reflect.Value) (reflect.Value, error) {
		if !v.IsValid() || !v.CanInterface() {
			return v, nil
		}
		room := MaxRenderSize - b.size
		n := sizeOf(v.Interface(), room)
		if n > room {
			return v, ErrOutputTooLarge
		}
		return v, b.process(n)
	}
}
