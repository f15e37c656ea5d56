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
// the same plus ESO's engine v2 functions (PEM, PKCS#12, JWK, YAML), with
// ESO's missingkey=error. [Engine.Option] derives variants.
//
// # Limits
//
// A template's source is capped at [MaxSourceSize] and its output at
// [MaxOutputSize]; execution stops with an error past the output cap.
package template

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	gotemplate "text/template"

	"github.com/Masterminds/sprig/v3"
)

const (
	// MaxSourceSize is the largest template source in bytes.
	MaxSourceSize = 1 << 20
	// MaxOutputSize is the largest rendered value in bytes: the size limit
	// of a whole Secret.
	MaxOutputSize = 1 << 20
)

// removed are the Sprig functions a template may not call.
var removed = []string{
	"env", "expandenv", // the controller's environment
	"getHostByName", // DNS lookups from inside the cluster
}

// ErrOutputTooLarge is returned when a template renders more than
// [MaxOutputSize] bytes.
var ErrOutputTooLarge = errors.New("template: output exceeds 1 MiB")

var baseFuncs = sync.OnceValue(func() gotemplate.FuncMap {
	fm := gotemplate.FuncMap(sprig.TxtFuncMap())
	for _, name := range removed {
		delete(fm, name)
	}
	bounded(fm)
	return fm
})

// Funcs returns a copy of the functions every template may call.
func Funcs() gotemplate.FuncMap { return maps.Clone(baseFuncs()) }

// Engine renders templates with the safe functions plus its own extras.
// The zero value is not usable; use [New]. An Engine is safe for concurrent
// use.
type Engine struct {
	funcs   gotemplate.FuncMap
	options []string
}

// New returns an engine with the safe Sprig functions and extra, whose
// entries override Sprig's of the same name. It is an error for extra to
// bring back a removed function.
func New(extra gotemplate.FuncMap) (*Engine, error) {
	fm := Funcs()
	for name, fn := range extra {
		for _, r := range removed {
			if name == r {
				return nil, fmt.Errorf("template: function %q is not allowed", name)
			}
		}
		fm[name] = fn
	}
	return &Engine{funcs: fm, options: []string{"missingkey=default"}}, nil
}

// Option returns a copy of e whose templates are parsed with the
// text/template options opts (such as "missingkey=error") after e's own.
func (e *Engine) Option(opts ...string) *Engine {
	return &Engine{funcs: e.funcs, options: append(slices.Clone(e.options), opts...)}
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

// Parse parses a template named name. The name appears in errors.
func (e *Engine) Parse(name, text string) (*gotemplate.Template, error) {
	if len(text) > MaxSourceSize {
		return nil, fmt.Errorf("template %q: source exceeds %d bytes", name, MaxSourceSize)
	}
	t, err := gotemplate.New(name).Option(e.options...).Funcs(e.funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("parse template %q: %w", name, err)
	}
	return t, nil
}

// Execute parses and runs one template over data.
//
// Errors say where the template failed, never what it rendered, so that an
// error message cannot carry secret bytes: text/template execution errors
// name the failing action and its source position, and this function adds
// nothing from data. Panics in template functions become errors.
func (e *Engine) Execute(name, text string, data any) (out []byte, err error) {
	t, err := e.Parse(name, text)
	if err != nil {
		return nil, err
	}
	return Run(t, data)
}

// Run executes a parsed template over data with the output cap.
func Run(t *gotemplate.Template, data any) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("execute template %q: function panicked", t.Name())
		}
	}()
	w := &cappedBuffer{max: MaxOutputSize}
	if err := t.Execute(w, data); err != nil {
		if errors.Is(err, ErrOutputTooLarge) {
			return nil, fmt.Errorf("execute template %q: %w", t.Name(), ErrOutputTooLarge)
		}
		return nil, fmt.Errorf("execute template %q: %w", t.Name(), scrub(err))
	}
	return w.Bytes(), nil
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

type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, ErrOutputTooLarge
	}
	return b.Buffer.Write(p)
}
