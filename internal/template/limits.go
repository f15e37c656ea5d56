package template

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Every function a template calls runs through a wrapper bound to the
// render's budget (bind). The wrapper takes one step, plus the function's
// weight, plus a step per bytesPerStep bytes of its arguments and of its
// result; it fails if the arguments together or the result are larger
// than MaxRenderSize. That bounds everything whose cost and allocation
// are linear in its input and output, which is most of Sprig. The rest
// is bounded here, function by function. Sprig v3.3.0, as the safe
// subset has it (env, expandenv and getHostByName are removed):
//
// Linear, the wrapper alone bounds them:
//   - strings: abbrev, abbrevboth, trunc, trim, trimAll, trimall,
//     trimPrefix, trimSuffix, upper, lower, title, untitle, substr,
//     nospace, initials, swapcase, shuffle, snakecase, camelcase,
//     kebabcase, contains, hasPrefix, hasSuffix, quote, squote (at most
//     10 bytes per input rune), cat (its arguments together), plural,
//     toString, wrap (one newline per input byte at most), toStrings,
//     sortAlpha (n log n comparisons of strings), regexQuoteMeta (2x);
//   - hashes and encodings: sha1sum, sha256sum, sha512sum, adler32sum,
//     b64enc, b64dec, b32enc, b32dec, encryptAES, decryptAES (no key
//     derivation), uuidv4;
//   - numbers and conversions: atoi, int, int64, float64, toDecimal, add1,
//     add, sub, div, mod, mul, randInt, add1f, addf, subf, divf, mulf,
//     biggest, max, min, maxf, minf, ceil, floor, round;
//   - dates: ago, date, dateModify, date_modify, duration, durationRound,
//     htmlDate, mustDateModify, must_date_modify, mustToDate, now,
//     toDate, unixEpoch (a layout's output is at most twice the layout);
//     dateInZone, date_in_zone and htmlDateInZone read a zone file and
//     weigh zoneWeight;
//   - defaults and reflection: default, empty, coalesce, all, any,
//     ternary, typeOf, typeIs, typeIsLike, kindOf, kindIs, deepEqual,
//     fail, hello;
//   - JSON and paths: fromJson, mustFromJson (decoding allocates a
//     constant times its input), toJson, toPrettyJson, toRawJson and their
//     must forms (sizeOf counts the indentation of nested values), base,
//     dir, clean, ext, isAbs, osBase, osClean, osDir, osExt, osIsAbs,
//     urlParse, urlJoin, semver, semverCompare;
//   - lists and dicts: list, tuple, dict, get, unset, hasKey, pluck, keys,
//     pick, omit, values, append, push, mustAppend, mustPush, prepend,
//     mustPrepend, first, mustFirst, rest, mustRest, last, mustLast,
//     initial, mustInitial, reverse, mustReverse, compact, mustCompact,
//     has, mustHas, slice, mustSlice, concat, dig, chunk, mustChunk,
//     deepCopy, mustDeepCopy. Each new list is measured when returned,
//     so doubling a list with concat or append fails at MaxRenderSize;
//   - set, merge, mergeOverwrite, mustMerge, mustMergeOverwrite change a
//     dict in place, so a dict measured small can grow where other lists
//     hold it; templates that call them have every printed value
//     measured again (see mutators in instrument.go);
//   - ESO's: toYaml, fromYaml (a step a byte, charged before it parses
//     (boundFromYAML): YAML decodes at about a byte a microsecond; alias
//     expansion is refused by the YAML decoder), filterPEM,
//     filterCertChain;
//   - sealsync's avpHas (decoding its secret).
//
// Bounded here, before they allocate:
//   - until, untilStep, seq: at most MaxItems numbers, counted without
//     overflow;
//   - repeat, indent, nindent, replace (an empty or short old string),
//     wrapWith (a long separator), join (a long separator), split,
//     splitList, splitn: their output size is known from their arguments;
//   - printf: widths and precisions, including "*" ones taken from the
//     arguments, are part of the output size;
//   - regexMatch, regexFind, regexFindAll, regexSplit, regexReplaceAll,
//     regexReplaceAllLiteral and their must forms: steps for compiling,
//     by program size, and for running, by input length times program
//     size (see compileRegexp), charged before either,
//     a bounded number of matches, and for replacements the output size
//     ($1 expansions included) counted in a first pass;
//   - uniq, without and their must forms compare every pair of elements;
//   - randAlphaNum, randAlpha, randAscii, randNumeric, randBytes: their
//     count;
//   - CPU-heavy functions weigh their cost (weights): bcrypt, htpasswd,
//     derivePassword (scrypt), genPrivateKey (by key type: RSA keys are
//     4096 bits and DSA needs new parameters, which take seconds, so
//     both are refused), genCA, genSelfSignedCert,
//     genSignedCert (RSA key generation), the *WithKey forms,
//     buildCustomCert and ESO's pemToPkcs12, fullPemToPkcs12, JWK and
//     rsaDecrypt functions, which parse a private key of a size the
//     caller chooses (rsaKeyWeight);
//   - pkcs12key, pkcs12cert and their Pass forms: the archive says how
//     many times to run each key derivation, which go-pkcs12 does not
//     cap, so meterPFX (pfx.go) reads it first and charges its
//     derivations, decryptions, bags and keys, refusing archives over
//     MaxPKCS12Iterations rounds or MaxPKCS12Bags bags;
//   - sealsync's avp (avp.go): its expression by the byte before it is
//     parsed (jsonpath parses slowly), a pass over the secret to decode
//     it, and a pass over the field's value per modifier (Expr.Weight,
//     jsonPath's nodes included, yamlParse weighing more), each before
//     it runs; a value a modifier grew pays for the passes after it
//     before they run, so a chain that grows a value and hashes it down
//     is charged its work; no value may grow past what the render may
//     still write (the room given to Expr.Apply, which base64encode and
//     indent check before they allocate); jsonPath takes only
//     expressions linear in the value.
//
// The text/template builtins print, printf, println, html, js and
// urlquery are overridden by wrapped versions of themselves, as they
// format their arguments; and, or, not, len, index, slice, eq, ne, lt,
// le, gt, ge and call allocate nothing that grows (call has no function
// value to call: no function returns one). Methods of returned values
// (time.Time from now and toDate, *semver.Version) are not wrapped; they
// return at most a small multiple of their arguments, which are.

// MaxItems is the most elements until, untilStep and seq may produce.
const MaxItems = 1 << 16

// Weights, in steps, of functions that cost far more than their size,
// measured on a busy two-core machine (a step is about a microsecond).
const (
	bcryptWeight  = 250_000 // bcrypt at its default cost
	scryptWeight  = 400_000 // derivePassword's scrypt: N=32768, r=8
	rsaGenWeight  = 250_000 // a 2048-bit RSA key
	pkcs12Weight  = 20_000  // building a PKCS#12 archive: 3 x 2048 PBKDF2 iterations
	certWeight    = 5_000   // a signature or a certificate parse
	zoneWeight    = 1_000   // a time zone file read
	smallKeyGen   = 1_000   // an ECDSA or Ed25519 key
	regexpWorkPer = 128     // input bytes x program instructions per step
	// refused is the weight of what takes seconds, at random: a 4096-bit
	// RSA key (genPrivateKey "rsa") and DSA parameters. No render can
	// afford it.
	refused = MaxSteps + 1
)

// weights are fixed extra steps per call.
var weights = map[string]int64{
	"bcrypt": bcryptWeight, "htpasswd": bcryptWeight, "derivePassword": scryptWeight,
	"genCA": rsaGenWeight, "genSelfSignedCert": rsaGenWeight, "genSignedCert": rsaGenWeight,
	"genCAWithKey": certWeight, "genSelfSignedCertWithKey": certWeight, "genSignedCertWithKey": certWeight,
	"buildCustomCert": certWeight,
	"dateInZone":      zoneWeight, "date_in_zone": zoneWeight, "htmlDateInZone": zoneWeight,
	"filterPEM": certWeight, "filterCertChain": certWeight, "certSANs": certWeight,
	"pemToPkcs12": pkcs12Weight, "pemToPkcs12Pass": pkcs12Weight, "fullPemToPkcs12": pkcs12Weight,
	"fullPemToPkcs12Pass": pkcs12Weight, "pemTruststoreToPKCS12": pkcs12Weight, "pemTruststoreToPKCS12Pass": pkcs12Weight,
	"jwkPublicKeyPem": certWeight, "jwkPrivateKeyPem": certWeight, "rsaDecrypt": certWeight,
}

// keyArgs are the arguments that hold a private key the function parses
// (and signs or decrypts with): its size, which the template's input
// chooses, sets the cost (rsaKeyWeight).
var keyArgs = map[string][]int{
	"genCAWithKey": {2}, "genSelfSignedCertWithKey": {4}, "genSignedCertWithKey": {4, 5},
	"genSignedCert": {4}, "buildCustomCert": {1},
	"pemToPkcs12": {1}, "pemToPkcs12Pass": {1}, "fullPemToPkcs12": {1}, "fullPemToPkcs12Pass": {1},
	"jwkPublicKeyPem": {0}, "jwkPrivateKeyPem": {0}, "rsaDecrypt": {3},
}

// rsaKeyWeight is the cost of parsing and using an RSA private key
// encoded in n bytes: cubic in the key size, about 15000 steps for a
// 4096-bit key in PEM, and over the budget for a 16384-bit one.
func rsaKeyWeight(n int64) int64 {
	n = min(n, MaxRenderSize)
	return n * n / 1024 * n / 2048
}

// bind returns fn bound to b: the wrapper that charges b for each call.
// plain says fn overrides the Sprig function of that name, so that only
// the generic wrapper applies.
func bind(name string, fn any, b *Budget, plain bool) any {
	if !plain {
		if mk, ok := special[name]; ok {
			if f := mk(b, fn); f != nil {
				return f
			}
		}
	}
	w := weights[name]
	if idx, ok := keyArgs[name]; ok {
		return wrapReflect(b, fn, func(args []reflect.Value) int64 {
			var n int64
			for _, i := range idx {
				if i < len(args) && args[i].IsValid() && args[i].CanInterface() {
					n += sizeOf(args[i].Interface(), MaxRenderSize)
				}
			}
			return w + rsaKeyWeight(n)
		})
	}
	switch f := fn.(type) {
	case func(string) string:
		return wrap1(b, w, f)
	case func(string, string) string:
		return wrap2(b, w, f)
	case func(string, string) bool:
		return wrap2(b, w, f)
	case func(any) string:
		return wrap1(b, w, f)
	case func(...any) string:
		return wrapVariadic(b, w, f)
	}
	if w == 0 {
		return wrapReflect(b, fn, nil)
	}
	return wrapReflect(b, fn, func([]reflect.Value) int64 { return w })
}

// before charges a call of weight steps whose arguments take in bytes.
func (b *Budget) before(weight, in int64) error {
	if err := b.fits(in); err != nil {
		return err
	}
	return b.step(1 + weight + in/bytesPerStep)
}

// after checks and charges a function's result.
func (b *Budget) after(v any) error {
	n := sizeOf(v, MaxRenderSize)
	if err := b.fits(n); err != nil {
		return err
	}
	return b.process(n)
}

// wrap1 and wrap2 are the wrappers of the most common signatures,
// without the cost of reflection, and with sizeOfArg, without boxing
// strings.
func wrap1[A, R any](b *Budget, w int64, f func(A) R) func(A) (R, error) {
	return func(a A) (R, error) {
		var r R
		if err := b.before(w, sizeOfArg(a)); err != nil {
			return r, err
		}
		r = f(a)
		return r, afterArg(b, r)
	}
}

func wrap2[A1, A2, R any](b *Budget, w int64, f func(A1, A2) R) func(A1, A2) (R, error) {
	return func(a1 A1, a2 A2) (R, error) {
		var r R
		if err := b.before(w, sizeOfArg(a1)+sizeOfArg(a2)); err != nil {
			return r, err
		}
		r = f(a1, a2)
		return r, afterArg(b, r)
	}
}

func sizeOfArg[T any](v T) int64 {
	if s, ok := any(v).(string); ok {
		return int64(len(s))
	}
	if _, ok := any(v).(bool); ok {
		return 5
	}
	return sizeOf(v, MaxRenderSize)
}

func afterArg[T any](b *Budget, v T) error {
	if s, ok := any(v).(string); ok {
		if err := b.fits(int64(len(s))); err != nil {
			return err
		}
		return b.process(int64(len(s)))
	}
	return b.after(v)
}

func wrapVariadic[R any](b *Budget, w int64, f func(...any) R) func(...any) (R, error) {
	return func(args ...any) (R, error) {
		var r R
		if err := b.before(w, argsSize(args)); err != nil {
			return r, err
		}
		r = f(args...)
		return r, b.after(r)
	}
}

// argsSize is the size of a call's arguments together, up to just past
// MaxRenderSize.
func argsSize(args []any) int64 {
	var n int64
	for _, a := range args {
		if n += sizeOf(a, MaxRenderSize-n); n > MaxRenderSize {
			break
		}
	}
	return n
}

var errorType = reflect.TypeFor[error]()

// wrapReflect wraps any function text/template accepts (one result, or a
// result and an error) into one of the same parameters that returns an
// error too. weight, if not nil, gives the call's weight from its
// arguments.
func wrapReflect(b *Budget, fn any, weight func([]reflect.Value) int64) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	in := make([]reflect.Type, ft.NumIn())
	for i := range in {
		in[i] = ft.In(i)
	}
	nt := reflect.FuncOf(in, []reflect.Type{ft.Out(0), errorType}, ft.IsVariadic())
	zero := reflect.Zero(ft.Out(0))
	fail := func(err error) []reflect.Value { return []reflect.Value{zero, reflect.ValueOf(&err).Elem()} }
	return reflect.MakeFunc(nt, func(args []reflect.Value) []reflect.Value {
		var n, w int64
		for _, a := range args {
			if a.CanInterface() {
				if n += sizeOf(a.Interface(), MaxRenderSize-n); n > MaxRenderSize {
					break
				}
			}
		}
		if weight != nil {
			w = weight(args)
		}
		if err := b.before(w, n); err != nil {
			return fail(err)
		}
		var out []reflect.Value
		if ft.IsVariadic() {
			out = fv.CallSlice(args)
		} else {
			out = fv.Call(args)
		}
		if len(out) == 2 && !out[1].IsNil() {
			return out
		}
		if err := b.after(out[0].Interface()); err != nil {
			return fail(err)
		}
		return []reflect.Value{out[0], reflect.Zero(errorType)}
	}).Interface()
}

// special are the functions bounded before they run (see the list at the
// top). Each returns nil when fn is not the function it bounds.
var special = map[string]func(b *Budget, fn any) any{
	"until":     func(b *Budget, fn any) any { return boundUntil(b, fn) },
	"untilStep": func(b *Budget, fn any) any { return boundUntilStep(b, fn) },
	"seq":       func(b *Budget, fn any) any { return boundSeq(b, fn) },
	"repeat":    func(b *Budget, fn any) any { return boundRepeat(b, fn) },
	"indent":    func(b *Budget, fn any) any { return boundIndent(b, fn, 0) },
	"nindent":   func(b *Budget, fn any) any { return boundIndent(b, fn, 1) },
	"replace":   func(b *Budget, fn any) any { return boundReplace(b, fn) },
	"wrapWith":  func(b *Budget, fn any) any { return boundWrapWith(b, fn) },
	"join":      func(b *Budget, fn any) any { return boundJoin(b, fn) },
	"split":     func(b *Budget, fn any) any { return boundSplit(b, fn) },
	"splitList": func(b *Budget, fn any) any { return boundSplitList(b, fn) },
	"splitn":    func(b *Budget, fn any) any { return boundSplitn(b, fn) },
	"printf":    func(b *Budget, fn any) any { return boundPrintf(b, fn) },
	"fromYaml":  func(b *Budget, fn any) any { return boundFromYAML(b, fn) },

	"genPrivateKey": func(b *Budget, fn any) any { return boundGenPrivateKey(b, fn) },

	"pkcs12key":      func(b *Budget, fn any) any { return boundPKCS12(b, fn) },
	"pkcs12keyPass":  func(b *Budget, fn any) any { return boundPKCS12(b, fn) },
	"pkcs12cert":     func(b *Budget, fn any) any { return boundPKCS12(b, fn) },
	"pkcs12certPass": func(b *Budget, fn any) any { return boundPKCS12(b, fn) },

	"uniq":        func(b *Budget, fn any) any { return boundPairwise(b, fn, 0) },
	"mustUniq":    func(b *Budget, fn any) any { return boundPairwise(b, fn, 0) },
	"without":     func(b *Budget, fn any) any { return boundPairwise(b, fn, 1) },
	"mustWithout": func(b *Budget, fn any) any { return boundPairwise(b, fn, 1) },

	"regexMatch":                 func(b *Budget, fn any) any { return boundRegexpMatch(b, fn, false) },
	"mustRegexMatch":             func(b *Budget, fn any) any { return boundRegexpMatch(b, fn, true) },
	"regexFind":                  func(b *Budget, fn any) any { return boundRegexpFind(b, fn) },
	"mustRegexFind":              func(b *Budget, fn any) any { return boundRegexpFind(b, fn) },
	"regexFindAll":               func(b *Budget, fn any) any { return boundRegexpList(b, fn, (*regexp.Regexp).FindAllString) },
	"mustRegexFindAll":           func(b *Budget, fn any) any { return boundRegexpList(b, fn, (*regexp.Regexp).FindAllString) },
	"regexSplit":                 func(b *Budget, fn any) any { return boundRegexpList(b, fn, (*regexp.Regexp).Split) },
	"mustRegexSplit":             func(b *Budget, fn any) any { return boundRegexpList(b, fn, (*regexp.Regexp).Split) },
	"regexReplaceAll":            func(b *Budget, fn any) any { return boundRegexpReplace(b, fn, false) },
	"mustRegexReplaceAll":        func(b *Budget, fn any) any { return boundRegexpReplace(b, fn, false) },
	"regexReplaceAllLiteral":     func(b *Budget, fn any) any { return boundRegexpReplace(b, fn, true) },
	"mustRegexReplaceAllLiteral": func(b *Budget, fn any) any { return boundRegexpReplace(b, fn, true) },

	"randAlphaNum": func(b *Budget, fn any) any { return boundRand(b, fn) },
	"randAlpha":    func(b *Budget, fn any) any { return boundRand(b, fn) },
	"randAscii":    func(b *Budget, fn any) any { return boundRand(b, fn) },
	"randNumeric":  func(b *Budget, fn any) any { return boundRand(b, fn) },
	"randBytes":    func(b *Budget, fn any) any { return boundRand(b, fn) },

	"avp": func(b *Budget, fn any) any { return boundAVP(b, fn) },
}

// produce charges a result of n bytes known before it is made, and fails
// if it is larger than MaxRenderSize.
func (b *Budget) produce(n int64) error {
	if err := b.fits(n); err != nil {
		return err
	}
	return b.step(1 + n/bytesPerStep)
}

// allocate charges work that allocates up to n bytes, of which the result
// is only part (see maxCallAlloc).
func (b *Budget) allocate(n int64) error {
	if n > maxCallAlloc || n < 0 {
		return ErrOutputTooLarge
	}
	return b.step(1 + n/bytesPerStep)
}

func boundUntil(b *Budget, fn any) any {
	if _, ok := fn.(func(int) []int); !ok {
		return nil
	}
	return func(n int) ([]int, error) {
		step := 1
		if n < 0 {
			step = -1
		}
		return untilStep(b, 0, n, step)
	}
}

func boundUntilStep(b *Budget, fn any) any {
	if _, ok := fn.(func(int, int, int) []int); !ok {
		return nil
	}
	return func(start, stop, step int) ([]int, error) { return untilStep(b, start, stop, step) }
}

// untilStep is Sprig's untilStep without its overflow: Sprig steps past
// stop and wraps around (untilStep 0 9223372036854775807
// 4611686018427387904 never ends), and the item count is computed in
// unsigned arithmetic here so that a span wider than int64 is counted
// right.
func untilStep(b *Budget, start, stop, step int) ([]int, error) {
	var span, by uint64
	switch {
	case stop > start && step > 0:
		span, by = uint64(stop)-uint64(start), uint64(step)
	case stop < start && step < 0:
		span, by = uint64(start)-uint64(stop), -uint64(step)
	default:
		return []int{}, nil
	}
	n := span / by
	if span%by != 0 {
		n++
	}
	if n > MaxItems {
		return nil, fmt.Errorf("%w (more than %d items)", ErrOutputTooLarge, MaxItems)
	}
	if err := b.step(1 + int64(n)*8/bytesPerStep); err != nil {
		return nil, err
	}
	v := make([]int, n)
	for i := range v {
		v[i] = start + i*step // between start and stop: no overflow
	}
	return v, nil
}

func boundSeq(b *Budget, fn any) any {
	if _, ok := fn.(func(...int) string); !ok {
		return nil
	}
	// As Sprig's seq, whose end+increment wraps around as here.
	return func(params ...int) (string, error) {
		var start, stop, step int
		switch len(params) {
		case 1:
			start, stop, step = 1, params[0]+1, 1
			if params[0] < 1 {
				stop, step = params[0]-1, -1
			}
		case 2:
			start, step = params[0], 1
			if params[1] < start {
				step = -1
			}
			stop = params[1] + step
		case 3:
			start, step = params[0], params[1]
			inc := 1
			if params[2] < start {
				inc = -1
				if step > 0 {
					return "", nil
				}
			}
			stop = params[2] + inc
		default:
			return "", nil
		}
		v, err := untilStep(b, start, stop, step)
		if err != nil {
			return "", err
		}
		s := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(v)), " "), "[]")
		return s, b.after(s)
	}
}

// boundFromYAML charges fromYaml a step a byte of its input before it
// parses: YAML decodes at about a byte a microsecond, 32 times what the
// generic wrapper charges.
func boundFromYAML(b *Budget, fn any) any {
	f, ok := fn.(func(string) map[string]any)
	if !ok {
		return nil
	}
	return func(s string) (map[string]any, error) {
		if err := b.before(int64(len(s)), int64(len(s))); err != nil {
			return nil, err
		}
		m := f(s)
		return m, b.after(m)
	}
}

func boundRepeat(b *Budget, fn any) any {
	f, ok := fn.(func(int, string) string)
	if !ok {
		return nil
	}
	return func(count int, s string) (string, error) {
		n := int64(max(min(count, MaxRenderSize+1), 0)) * int64(min(len(s), MaxRenderSize+1))
		if err := b.produce(n); err != nil {
			return "", err
		}
		return f(count, s), nil
	}
}

func boundIndent(b *Budget, fn any, extra int64) any {
	f, ok := fn.(func(int, string) string)
	if !ok {
		return nil
	}
	return func(spaces int, v string) (string, error) {
		lines := int64(strings.Count(v, "\n")) + 1
		if err := b.produce(int64(len(v)) + lines*int64(max(min(spaces, MaxRenderSize+1), 0)) + extra); err != nil {
			return "", err
		}
		return f(spaces, v), nil
	}
}

func boundReplace(b *Budget, fn any) any {
	f, ok := fn.(func(string, string, string) string)
	if !ok {
		return nil
	}
	return func(old, new, src string) (string, error) {
		if err := b.before(0, int64(len(old)+len(new)+len(src))); err != nil {
			return "", err
		}
		n := int64(len(src))
		if len(new) > len(old) {
			count := int64(utf8.RuneCountInString(src)) + 1 // what "" matches
			if old != "" {
				count = int64(strings.Count(src, old))
			}
			n += count * int64(len(new)-len(old))
		}
		if err := b.produce(n); err != nil {
			return "", err
		}
		return f(old, new, src), nil
	}
}

func boundWrapWith(b *Budget, fn any) any {
	f, ok := fn.(func(int, string, string) string)
	if !ok {
		return nil
	}
	return func(l int, sep, str string) (string, error) {
		// Every line holds at least one byte of str, and is followed by
		// sep or a newline.
		if err := b.allocate(int64(len(str)) * int64(1+max(len(sep), 1))); err != nil {
			return "", err
		}
		r := f(l, sep, str)
		return r, b.after(r)
	}
}

func boundJoin(b *Budget, fn any) any {
	f, ok := fn.(func(string, any) string)
	if !ok {
		return nil
	}
	return func(sep string, v any) (string, error) {
		size := sizeOf(v, MaxRenderSize)
		if err := b.before(0, size+int64(len(sep))); err != nil {
			return "", err
		}
		items := int64(1)
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			items = int64(rv.Len())
		}
		if err := b.allocate(size + items*int64(len(sep))); err != nil {
			return "", err
		}
		r := f(sep, v)
		return r, b.after(r)
	}
}

// pieces counts what strings.Split(s, sep) returns, up to limit.
func pieces(sep, s string, limit int64) int64 {
	if sep == "" {
		return min(int64(utf8.RuneCountInString(s)), limit)
	}
	return min(int64(strings.Count(s, sep))+1, limit)
}

// The most pieces a split may make: each adds at least elemOverhead to
// the result's size (entryOverhead and a key to a dict's).
const (
	maxListPieces = MaxRenderSize/elemOverhead + 1
	maxDictPieces = MaxRenderSize/(entryOverhead+2) + 1
)

func boundSplit(b *Budget, fn any) any {
	f, ok := fn.(func(string, string) map[string]string)
	if !ok {
		return nil
	}
	return func(sep, orig string) (map[string]string, error) {
		if err := b.before(0, int64(len(sep)+len(orig))); err != nil {
			return nil, err
		}
		if pieces(sep, orig, maxDictPieces) >= maxDictPieces {
			return nil, ErrOutputTooLarge
		}
		r := f(sep, orig)
		return r, b.after(r)
	}
}

func boundSplitList(b *Budget, fn any) any {
	f, ok := fn.(func(string, string) []string)
	if !ok {
		return nil
	}
	return func(sep, orig string) ([]string, error) {
		if err := b.before(0, int64(len(sep)+len(orig))); err != nil {
			return nil, err
		}
		if pieces(sep, orig, maxListPieces) >= maxListPieces {
			return nil, ErrOutputTooLarge
		}
		r := f(sep, orig)
		return r, b.after(r)
	}
}

func boundSplitn(b *Budget, fn any) any {
	f, ok := fn.(func(string, int, string) map[string]string)
	if !ok {
		return nil
	}
	return func(sep string, n int, orig string) (map[string]string, error) {
		if err := b.before(0, int64(len(sep)+len(orig))); err != nil {
			return nil, err
		}
		p := pieces(sep, orig, maxDictPieces)
		if n > 0 {
			p = min(p, int64(n))
		}
		if p >= maxDictPieces {
			return nil, ErrOutputTooLarge
		}
		r := f(sep, n, orig)
		return r, b.after(r)
	}
}

func boundPrintf(b *Budget, fn any) any {
	f, ok := fn.(func(string, ...any) string)
	if !ok {
		return nil
	}
	return func(format string, args ...any) (string, error) {
		in := int64(len(format)) + argsSize(args)
		if err := b.before(0, in); err != nil {
			return "", err
		}
		pad, err := printfPadding(format, args)
		if err != nil {
			return "", err
		}
		if err := b.allocate(in + pad); err != nil {
			return "", err
		}
		r := f(format, args...)
		return r, b.after(r)
	}
}

// printfPadding returns the widths and precisions of format's verbs
// together: what fmt.Sprintf writes beyond its arguments. A "*" takes
// its value from the arguments as fmt does, counting explicit [n]
// indexes. A width or precision above MaxRenderSize is an error, as it
// asks for more output than a render may have (fmt itself prints
// %!(BADWIDTH) for those above a million).
func printfPadding(format string, args []any) (int64, error) {
	var total int64
	arg := 0
	add := func(n int64) error {
		if n > MaxRenderSize {
			return ErrOutputTooLarge
		}
		total += max(n, 0)
		return nil
	}
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
	verb:
		for i++; i < len(format); i++ {
			switch c := format[i]; {
			case c == '+' || c == '-' || c == '#' || c == ' ' || c == '.':
			case c >= '0' && c <= '9':
				j := i
				for j < len(format) && format[j] >= '0' && format[j] <= '9' {
					j++
				}
				n, err := strconv.ParseInt(format[i:j], 10, 64)
				if err != nil {
					n = MaxRenderSize + 1 // out of range
				}
				if err := add(n); err != nil {
					return 0, err
				}
				i = j - 1
			case c == '[':
				j := strings.IndexByte(format[i:], ']')
				if j < 0 {
					break verb
				}
				if n, err := strconv.Atoi(format[i+1 : i+j]); err == nil {
					arg = n - 1
				}
				i += j
			case c == '*':
				if arg >= 0 && arg < len(args) {
					if n, ok := asInt(args[arg]); ok {
						if err := add(n); err != nil {
							return 0, err
						}
					}
				}
				arg++
			default:
				if c != '%' {
					arg++
				}
				break verb
			}
		}
	}
	return total, nil
}

// asInt returns v as fmt's "*" reads it: any integer type.
func asInt(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := rv.Int()
		if n < 0 {
			n = -n // a negative width is a left-aligned one
		}
		return n, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int64(min(rv.Uint(), MaxRenderSize+1)), true
	}
	return 0, false
}

func boundGenPrivateKey(b *Budget, fn any) any {
	f, ok := fn.(func(string) string)
	if !ok {
		return nil
	}
	return func(typ string) (string, error) {
		w := int64(smallKeyGen)
		if typ == "" || typ == "rsa" || typ == "dsa" {
			w = refused
		}
		if err := b.before(w, int64(len(typ))); err != nil {
			return "", err
		}
		r := f(typ)
		return r, b.after(r)
	}
}

// boundPKCS12 bounds the functions that decode a PKCS#12 archive:
// pkcs12key and pkcs12cert (the empty password), pkcs12keyPass and
// pkcs12certPass (password first). meterPFX charges what decoding the
// archive takes, or refuses it, before the function runs.
func boundPKCS12(b *Budget, fn any) any {
	meter := func(pass, archive string) error {
		if err := b.before(0, int64(len(pass)+len(archive))); err != nil {
			return err
		}
		return meterPFX(b, []byte(archive), pass)
	}
	done := func(r string, err error) (string, error) {
		if err != nil {
			return "", err
		}
		return r, afterArg(b, r)
	}
	switch f := fn.(type) {
	case func(string) (string, error):
		return func(archive string) (string, error) {
			if err := meter("", archive); err != nil {
				return "", err
			}
			return done(f(archive))
		}
	case func(string, string) (string, error):
		return func(pass, archive string) (string, error) {
			if err := meter(pass, archive); err != nil {
				return "", err
			}
			return done(f(pass, archive))
		}
	}
	return nil
}

// boundPairwise bounds uniq and without, which compare each element of
// their list with the others (the omitted values, for without: argument
// omit). Comparing strings and numbers is cheap; comparing lists and
// dicts walks them.
func boundPairwise(b *Budget, fn any, omit int) any {
	return wrapReflect(b, fn, func(args []reflect.Value) int64 {
		if len(args) == 0 {
			return 0
		}
		list := reflect.ValueOf(args[0].Interface())
		if list.Kind() != reflect.Slice && list.Kind() != reflect.Array {
			return 0
		}
		n := int64(list.Len())
		m := n
		if omit > 0 && len(args) > omit {
			m = int64(args[omit].Len())
		}
		work := n
		for i := range list.Len() {
			switch list.Index(i).Interface().(type) {
			case string, int, int64, float64, bool, nil:
				continue
			}
			work = n + sizeOf(list.Interface(), MaxRenderSize)/elemOverhead
			break
		}
		return min(m, MaxSteps) * min(work, MaxSteps) / 16
	})
}

func boundRand(b *Budget, fn any) any {
	switch f := fn.(type) {
	case func(int) string:
		return func(n int) (string, error) {
			if err := b.produce(int64(max(n, 0))); err != nil {
				return "", err
			}
			return f(n), nil
		}
	case func(int) (string, error):
		return func(n int) (string, error) {
			if err := b.produce(int64(max(n, 0)) * 4 / 3); err != nil {
				return "", err
			}
			return f(n)
		}
	}
	return nil
}

// compileRegexp compiles expr to run over n bytes of input, charging
// first its compilation and the run, both set by its program size:
// compiling takes microseconds per instruction, and running takes a
// few nanoseconds per input byte and instruction.
func compileRegexp(b *Budget, expr string, n int64) (*regexp.Regexp, error) {
	if err := b.before(0, int64(len(expr))); err != nil {
		return nil, err
	}
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, errors.New("invalid regular expression")
	}
	insts := progSize(re)
	if err := b.step(min(8*insts+(n+1)*insts/regexpWorkPer, MaxSteps+1)); err != nil {
		return nil, err
	}
	r, err := regexp.Compile(expr)
	if err != nil {
		return nil, errors.New("invalid regular expression")
	}
	return r, nil
}

// progSize estimates how many instructions re compiles to: repetitions
// expand their operand (x{1000} is a thousand copies of x). Saturates at
// MaxSteps*regexpWorkPer.
func progSize(re *syntax.Regexp) int64 {
	const most = MaxSteps * regexpWorkPer
	n := int64(1)
	for _, s := range re.Sub {
		n = min(n+progSize(s), most)
	}
	switch re.Op {
	case syntax.OpLiteral:
		n += int64(len(re.Rune))
	case syntax.OpCapture:
		n++
	case syntax.OpRepeat:
		times := int64(re.Max)
		if times < 0 {
			times = int64(re.Min) + 1
		}
		n = min(n*max(times, 1), most)
	}
	return n
}

func boundRegexpMatch(b *Budget, fn any, must bool) any {
	run := func(expr, s string) (bool, error) {
		if err := b.before(0, int64(len(s))); err != nil {
			return false, err
		}
		re, err := compileRegexp(b, expr, int64(len(s)))
		if err != nil {
			if errors.Is(err, ErrBudgetExceeded) || must {
				return false, err
			}
			return false, nil // regexMatch is false for a bad expression
		}
		return re.MatchString(s), nil
	}
	switch fn.(type) {
	case func(string, string) bool, func(string, string) (bool, error):
		return run
	}
	return nil
}

func boundRegexpFind(b *Budget, fn any) any {
	switch fn.(type) {
	case func(string, string) string, func(string, string) (string, error):
	default:
		return nil
	}
	return func(expr, s string) (string, error) {
		if err := b.before(0, int64(len(s))); err != nil {
			return "", err
		}
		re, err := compileRegexp(b, expr, int64(len(s)))
		if err != nil {
			return "", err
		}
		return re.FindString(s), nil
	}
}

// boundRegexpList bounds regexFindAll and regexSplit: at most
// maxListPieces results, which is already over MaxRenderSize.
func boundRegexpList(b *Budget, fn any, op func(*regexp.Regexp, string, int) []string) any {
	switch fn.(type) {
	case func(string, string, int) []string, func(string, string, int) ([]string, error):
	default:
		return nil
	}
	return func(expr, s string, n int) ([]string, error) {
		if err := b.before(0, int64(len(s))); err != nil {
			return nil, err
		}
		re, err := compileRegexp(b, expr, int64(len(s)))
		if err != nil {
			return nil, err
		}
		if n < 0 || n > maxListPieces {
			n = maxListPieces
		}
		r := op(re, s, n)
		if len(r) >= maxListPieces {
			return nil, ErrOutputTooLarge
		}
		return r, b.after(r)
	}
}

// boundRegexpReplace bounds regexReplaceAll and regexReplaceAllLiteral:
// a first pass counts the matches and their length, which bound the
// output: each match becomes repl with each "$" reference expanded to at
// most the match.
func boundRegexpReplace(b *Budget, fn any, literal bool) any {
	switch fn.(type) {
	case func(string, string, string) string, func(string, string, string) (string, error):
	default:
		return nil
	}
	return func(expr, s, repl string) (string, error) {
		if err := b.before(0, int64(len(s)+len(repl))); err != nil {
			return "", err
		}
		// Two runs: one to count, one to replace.
		re, err := compileRegexp(b, expr, 2*int64(len(s)))
		if err != nil {
			return "", err
		}
		var count, matched int64
		re.ReplaceAllStringFunc(s, func(m string) string {
			count++
			matched += int64(len(m))
			return ""
		})
		refs := int64(strings.Count(repl, "$"))
		if literal {
			refs = 0
		}
		if err := b.allocate(int64(len(s)) - matched + count*int64(len(repl)) + refs*matched); err != nil {
			return "", err
		}
		var r string
		if literal {
			r = re.ReplaceAllLiteralString(s, repl)
		} else {
			r = re.ReplaceAllString(s, repl)
		}
		return r, b.after(r)
	}
}
