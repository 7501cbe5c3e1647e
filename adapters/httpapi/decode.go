package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// maxBodyBytes caps every request body.
const maxBodyBytes = 1 << 20

// errBodyTooLarge and errUnsupportedMedia are answered 413 and 415.
var (
	errBodyTooLarge     = errors.New("body too large")
	errUnsupportedMedia = errors.New("unsupported media type")
)

// readBody reads the whole (size-limited) body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errBodyTooLarge
	}
	return b, err
}

// mediaType returns the request's media type, lower-cased, without parameters.
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "invalid"
	}
	return mt
}

// object is a decoded JSON object whose fields are read one by one, so every
// problem is reported with its field name, FastAPI style.
type object struct {
	fields map[string]json.RawMessage
	errs   []validationItem
}

// decodeJSONObject reads a JSON object body. It fails with errBodyTooLarge,
// errUnsupportedMedia or a *requestError holding 422 items.
func decodeJSONObject(w http.ResponseWriter, r *http.Request) (*object, error) {
	// No Content-Type at all is read as JSON, as FastAPI did for the seed's clients.
	if mt := mediaType(r); mt != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return nil, errUnsupportedMedia
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return parseJSONObject(body)
}

func parseJSONObject(body []byte) (*object, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "Field required", Type: "missing"}}}
	}
	if !utf8.Valid(body) {
		return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "JSON decode error: invalid UTF-8", Type: "json_invalid"}}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"}}}
		}
		return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "JSON decode error", Type: "json_invalid"}}}
	}
	if fields == nil { // the body was `null`
		return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "Input should be a valid dictionary or object to extract fields from", Type: "model_attributes_type"}}}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "JSON decode error: trailing data", Type: "json_invalid"}}}
	}
	return &object{fields: fields}, nil
}

// requestError is a 422 found while decoding, before any use case ran.
type requestError struct{ items []validationItem }

func (e *requestError) Error() string { return "invalid request body" }

func (o *object) fail(field, typ, msg string) {
	o.errs = append(o.errs, validationItem{Loc: []any{"body", field}, Msg: msg, Type: typ})
}

// allow reports every field not in names: unknown fields are refused, which
// also stops mass assignment.
func (o *object) allow(names ...string) {
	extra := make([]string, 0)
	for k := range o.fields {
		if !slices.Contains(names, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	// A body of many unknown keys must not become a larger answer.
	for _, k := range extra[:min(len(extra), maxReportedExtra)] {
		o.fail(truncateField(k), "extra_forbidden", "Extra inputs are not permitted")
	}
}

// maxReportedExtra bounds the unknown fields one 422 lists.
const maxReportedExtra = 10

// truncateField keeps an echoed field name short.
func truncateField(k string) string {
	if len(k) <= 64 {
		return k
	}
	return strings.ToValidUTF8(k[:64], "") + "…"
}

// has reports whether the field is present (even as null).
func (o *object) has(name string) bool {
	_, ok := o.fields[name]
	return ok
}

// str reads a string field. A missing field is nil (an error if required);
// null is nil too unless nullable is false, in which case it is an error.
func (o *object) str(name string, required, nullable bool) *string {
	raw, ok := o.fields[name]
	if !ok {
		if required {
			o.fail(name, "missing", "Field required")
		}
		return nil
	}
	if string(raw) == "null" {
		if !nullable {
			o.fail(name, "string_type", "Input should be a valid string")
		}
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		o.fail(name, "string_type", "Input should be a valid string")
		return nil
	}
	if strings.ContainsRune(s, 0) {
		// No store keeps NUL in text (PostgreSQL refuses it): refuse it here.
		o.fail(name, "string_unicode", "Input should not contain NUL characters")
		return nil
	}
	return &s
}

// nullableStr reads an optional field where null means "clear it".
func (o *object) nullableStr(name string) *string {
	if raw, ok := o.fields[name]; ok && string(raw) == "null" {
		empty := ""
		return &empty
	}
	return o.str(name, false, true)
}

// err returns the collected problems as a *requestError, or nil.
func (o *object) err() error {
	if len(o.errs) == 0 {
		return nil
	}
	return &requestError{items: o.errs}
}

// queryErrors collects what is wrong with a request's query parameters,
// worded as object words a body's.
type queryErrors struct{ items []validationItem }

// fail records a problem with parameter name; an empty name is the whole
// query string.
func (q *queryErrors) fail(name, typ, msg string) {
	loc := []any{"query"}
	if name != "" {
		loc = append(loc, name)
	}
	q.items = append(q.items, validationItem{Loc: loc, Msg: msg, Type: typ})
}

// err returns the collected problems as a *requestError, or nil.
func (q *queryErrors) err() error {
	if len(q.items) == 0 {
		return nil
	}
	return &requestError{items: q.items}
}

// writeDecodeError answers a request whose body or query could not be read.
func writeDecodeError(w http.ResponseWriter, err error) bool {
	var re *requestError
	switch {
	case err == nil:
		return false
	case errors.Is(err, errBodyTooLarge):
		writeDetail(w, http.StatusRequestEntityTooLarge, detailBodyTooLarge)
	case errors.Is(err, errUnsupportedMedia):
		writeDetail(w, http.StatusUnsupportedMediaType, detailUnsupportedContent)
	case errors.As(err, &re):
		writeJSON(w, http.StatusUnprocessableEntity, problem{Detail: re.items})
	default:
		writeDetail(w, http.StatusBadRequest, "Could not read the request body")
	}
	return true
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if a, ok := v.(jsonAppender); ok {
		// The bytes json.Encoder writes, newline included.
		_, _ = w.Write(append(a.appendJSON(make([]byte, 0, 1024)), '\n')) //nolint:gosec // JSON, with <, > and & escaped, as application/json
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
