package template

import (
	"bytes"
	"errors"
	"fmt"
)

// The budget of one object's render. Every template of the object (each
// key, label and annotation, templateFrom entry and rewrite transform)
// draws from the same [Budget], so splitting work over many keys gains
// nothing.
const (
	// MaxSteps is how many steps one render may take. A step is roughly a
	// microsecond of work or less: one template node executed, one
	// function call, bytesPerStep bytes a function reads or returns, or
	// sourceBytesPerStep bytes of template source parsed. CPU-heavy
	// functions (bcrypt, key generation) weigh more (see limits.go).
	MaxSteps = 1_000_000
	// MaxRenderSize is how many bytes one render may write in all, and the
	// largest value a template function may take (its arguments together)
	// or return: the size limit of a whole Secret.
	MaxRenderSize = 1 << 20
	// MaxNesting is how deep blocks (if, range, with, else if chains,
	// parenthesized pipelines) and {{template}} calls may nest, together:
	// each level costs the executor, and the parser before it, stack.
	MaxNesting = 1000
)

const (
	// bytesPerStep is how many bytes a function may read or return per
	// step. Sizes of lists and maps count a few bytes per element (see
	// sizeOf), so measuring them costs steps too.
	bytesPerStep = 32
	// sourceBytesPerStep is how many bytes of template source one step
	// parses: parsing a megabyte takes a few hundred milliseconds.
	sourceBytesPerStep = 4
	// maxCallAlloc bounds what one function call may allocate before its
	// result is checked against MaxRenderSize, where only an upper bound
	// of its result's size can be known beforehand (printf, regular
	// expression replacement, join).
	maxCallAlloc = 8 * MaxRenderSize
)

// ErrBudgetExceeded is wrapped by every error that stops a render for
// going over its budget: too many steps ([ErrTooManySteps]), too large an
// output or value ([ErrOutputTooLarge]), too deep a nesting
// ([ErrNestedTooDeep]), or a PKCS#12 archive too costly to read
// ([ErrTooManyPKCS12Iterations], [ErrTooManyPKCS12Bags]). Such a render
// fails the same way every time it is tried on the same input, so callers
// treat it as permanent. The messages name the limit, never a value.
var ErrBudgetExceeded = errors.New("template render budget exceeded")

var (
	// ErrTooManySteps is returned when a render takes more than
	// [MaxSteps] steps.
	ErrTooManySteps = fmt.Errorf("%w: more than %d steps", ErrBudgetExceeded, MaxSteps)
	// ErrOutputTooLarge is returned when a render writes more than
	// [MaxRenderSize] bytes in all, or a template function would take or
	// return a value larger than that.
	ErrOutputTooLarge = fmt.Errorf("%w: more than %d bytes", ErrBudgetExceeded, MaxRenderSize)
	// ErrNestedTooDeep is returned when blocks and template calls nest
	// deeper than [MaxNesting].
	ErrNestedTooDeep = fmt.Errorf("%w: nested deeper than %d", ErrBudgetExceeded, MaxNesting)
	// ErrTooManyPKCS12Iterations is returned when reading a PKCS#12
	// archive would take more than [MaxPKCS12Iterations] key derivation
	// rounds.
	ErrTooManyPKCS12Iterations = fmt.Errorf("%w: PKCS#12 archive needs more than %d key derivation rounds", ErrBudgetExceeded, MaxPKCS12Iterations)
	// ErrTooManyPKCS12Bags is returned when a PKCS#12 archive holds more
	// than [MaxPKCS12Bags] bags.
	ErrTooManyPKCS12Bags = fmt.Errorf("%w: PKCS#12 archive holds more than %d bags", ErrBudgetExceeded, MaxPKCS12Bags)
)

// Budget is what one object's render may spend: [MaxSteps] steps and
// [MaxRenderSize] bytes of output. Create one per render with
// [NewBudget] and pass it to every template of the object. Once exceeded,
// every further use of the budget fails with the same error. A Budget is
// not safe for concurrent use: one object's templates render one after
// the other.
type Budget struct {
	steps int64 // taken
	size  int64 // bytes written
	err   error // sticky: set when the budget is exceeded
}

// NewBudget returns a full budget for one render.
func NewBudget() *Budget { return &Budget{} }

// Steps reports how many steps the render has taken; it is never above
// [MaxSteps].
func (b *Budget) Steps() int64 { return b.steps }

// Size reports how many bytes the render has written; it is never above
// [MaxRenderSize].
func (b *Budget) Size() int64 { return b.size }

// step takes n steps.
func (b *Budget) step(n int64) error {
	if b.err != nil {
		return b.err
	}
	if n > MaxSteps-b.steps {
		b.err = ErrTooManySteps
		return b.err
	}
	b.steps += n
	return nil
}

// process takes the steps of reading or producing n bytes.
func (b *Budget) process(n int64) error {
	return b.step(n / bytesPerStep)
}

// fits reports ErrOutputTooLarge for a value of n bytes.
func (b *Budget) fits(n int64) error {
	if b.err != nil {
		return b.err
	}
	if n > MaxRenderSize {
		return ErrOutputTooLarge
	}
	return nil
}

// write takes n bytes of output.
func (b *Budget) write(n int) error {
	if b.err != nil {
		return b.err
	}
	if int64(n) > MaxRenderSize-b.size {
		b.err = ErrOutputTooLarge
		return b.err
	}
	b.size += int64(n)
	return nil
}

// output is the writer of one execution: it charges the budget for what
// is written and counts the markers instrument put into the tree.
type output struct {
	b     *Budget
	buf   bytes.Buffer
	depth int64 // nesting of the template calls under way
}

// Write implements io.Writer.
func (w *output) Write(p []byte) (int, error) {
	if len(p) == 0 && cap(p) > 0 {
		// Perhaps a marker; markers write nothing.
		switch &p[:1][0] {
		case &marks[stepMark]:
			return 0, w.b.step(int64(cap(p)))
		case &marks[enterMark]:
			w.depth += int64(cap(p))
			if w.depth > MaxNesting {
				return 0, ErrNestedTooDeep
			}
			return 0, nil
		case &marks[leaveMark]:
			w.depth -= int64(cap(p))
			return 0, nil
		}
	}
	if err := w.b.write(len(p)); err != nil {
		return 0, err
	}
	return w.buf.Write(p)
}

// Markers are text nodes that instrument adds to a parsed template: the
// executor writes a text node's bytes to the output as they are, and
// calling output.Write costs a few nanoseconds where calling a template
// function costs hundreds, which matters for the marker run on every
// iteration of {{range}}. A marker's text is empty, so it writes nothing to
// any writer, and a slice of marks starting at its kind's index, so that
// output.Write recognises it by address; its capacity is its weight.
const (
	stepMark  = iota // take cap steps
	enterMark        // a template starts: cap levels deeper
	leaveMark        // a template ends: cap levels back
	markCap   = MaxSourceSize + 8
)

// marks backs the markers. It is never written, so it costs address
// space, not memory.
var marks [markCap]byte

// marker returns the text of a marker of kind with weight n.
func marker(kind int, n int64) []byte {
	n = min(max(n, 1), markCap-int64(kind))
	return marks[kind : kind : int64(kind)+n]
}
