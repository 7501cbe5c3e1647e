package httpapi

// Fuzz targets for the request decoders: whatever the bytes, they answer
// with a value or a 4xx-shaped error, never a panic. `go test` runs the
// seeds; `go test -run '^$' -fuzz '^FuzzX$' ./adapters/httpapi/` explores.

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkDecodeError fails unless err is one of the decoders' documented
// errors, and a *requestError says at least one thing.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	var re *requestError
	switch {
	case errors.Is(err, errBodyTooLarge), errors.Is(err, errUnsupportedMedia):
	case errors.As(err, &re):
		if len(re.items) == 0 {
			t.Fatal("a requestError without items")
		}
		for _, it := range re.items {
			if len(it.Loc) == 0 || it.Loc[0] != "body" || it.Msg == "" || it.Type == "" {
				t.Fatalf("incomplete item %+v", it)
			}
		}
		// It must render as the 422 body it becomes.
		rec := httptest.NewRecorder()
		if !writeDecodeError(rec, err) || rec.Code != http.StatusUnprocessableEntity || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("requestError answered %d %q", rec.Code, rec.Body)
		}
	default:
		t.Fatalf("unexpected error %T %v", err, err)
	}
}

func FuzzParseJSONObject(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"email":"a@example.com","password":"x"}`, `{"a":1,"a":2}`, `null`, `[]`, `"s"`, `1`, ``, ` `,
		`{"a":`, `{"a":1} {}`, `{"a":1} x`, "{\"\xff\":1}", `{"a":"\u0000"}`, `{"a":{"b":[1,2,{"c":null}]}}`,
		`{"\u00e9":true}`, `{"a":1e400}`, `{"a":"\ud800"}`, "\ufeff{}", `{"":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseJSONObject(body)
		if err != nil {
			if o != nil {
				t.Fatal("an object and an error")
			}
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("error %T %v is not a requestError", err, err)
			}
			checkDecodeError(t, err)
			return
		}
		if o == nil || o.fields == nil || len(o.errs) != 0 {
			t.Fatalf("success without a clean object: %+v", o)
		}
		// Every field name is a key of the object the body holds.
		var want map[string]json.RawMessage
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("parsed, but encoding/json refuses %q: %v", body, err)
		}
		if len(want) != len(o.fields) {
			t.Fatalf("%d fields, the body has %d keys", len(o.fields), len(want))
		}
		for k, v := range o.fields {
			if _, ok := want[k]; !ok {
				t.Fatalf("field %q is not a key of %q", k, body)
			}
			if !json.Valid(v) {
				t.Fatalf("field %q holds invalid JSON %q", k, v)
			}
			// Reading a field never panics and reports its problems.
			o.str(k, true, false)
			o.nullableStr(k)
			o.has(k)
		}
		o.allow()
		if len(o.fields) > 0 && o.err() == nil {
			t.Fatal("allow() of nothing accepted fields")
		}
		if o.err() != nil {
			checkDecodeError(t, o.err())
		}
	})
}

// fuzzContentTypes are the content types FuzzReadLoginForm sends.
var fuzzContentTypes = []string{
	"application/json",
	"application/x-www-form-urlencoded",
	"multipart/form-data; boundary=XyZ",
	"", // none: read as JSON
	"application/x-www-form-urlencoded; charset=UTF-8",
	"multipart/form-data", // no boundary
	"text/plain",
	"application/json; charset=utf-8; x=\"",
}

func FuzzReadLoginForm(f *testing.F) {
	multipartBody := func(fields ...string) []byte {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		_ = w.SetBoundary("XyZ")
		for i := 0; i+1 < len(fields); i += 2 {
			_ = w.WriteField(fields[i], fields[i+1])
		}
		_ = w.Close()
		return buf.Bytes()
	}
	seeds := []struct {
		ct   uint8
		body []byte
	}{
		{0, []byte(`{"email":"a@example.com","password":"pw"}`)},
		{0, []byte(`{"username":"a@example.com","password":"pw","grant_type":"password"}`)},
		{0, []byte(`{"grant_type":"refresh_token","refresh_token":"abc"}`)},
		{0, []byte(`{"grant_type":"client_credentials"}`)},
		{1, []byte("username=a%40example.com&password=pw&grant_type=password&scope=")},
		{1, []byte("grant_type=refresh_token&refresh_token=abc")},
		{1, []byte("username=a&username=b&password=%ff")},
		{1, []byte("%zz")},
		{2, multipartBody("username", "a@example.com", "password", "pw")},
		{2, multipartBody("grant_type", "refresh_token", "refresh_token", "abc")},
		{2, []byte("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\nx\r\n--XyZ--\r\n")},
		{2, []byte("garbage")},
		{3, []byte(`{"email":"a@example.com","password":"pw"}`)},
		{3, nil},
		{5, []byte("x")},
		{6, []byte("x")},
		{7, []byte("{}")},
	}
	for _, s := range seeds {
		f.Add(s.ct, s.body)
	}
	f.Fuzz(func(t *testing.T, ct uint8, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/login/", bytes.NewReader(body))
		if c := fuzzContentTypes[int(ct)%len(fuzzContentTypes)]; c != "" {
			req.Header.Set("Content-Type", c)
		}
		rec := httptest.NewRecorder()
		lr, err := readLogin(rec, req)
		if req.MultipartForm != nil {
			_ = req.MultipartForm.RemoveAll()
		}
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		switch lr.grantType {
		case "password":
			if lr.refreshToken != "" {
				t.Fatalf("a password grant with a refresh token: %+v", lr)
			}
		case "refresh_token":
			if lr.email != "" || lr.password != "" {
				t.Fatalf("a refresh grant with credentials: %+v", lr)
			}
		default:
			t.Fatalf("grant type %q accepted", lr.grantType)
		}
		for _, s := range []string{lr.email, lr.password, lr.refreshToken} {
			if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				t.Fatalf("a decoded field is not clean text: %q", s)
			}
		}
	})
}

func FuzzQueryInt(f *testing.F) {
	for _, q := range []string{
		"", "limit=10", "limit=", "limit=abc", "limit=-1", "limit=1&limit=2", "limit=99999999999999999999",
		"limit=+5", "limit=0x10", "limit=1e3", "limit=%20", "limit=%zz", "limit", "skip=3", "limit=1;x=2",
		"limit=" + strconv.Itoa(int(^uint(0)>>1)), "limit=-0", "limit=٣",
	} {
		f.Add(q, "limit", 50)
	}
	f.Fuzz(func(t *testing.T, rawQuery, name string, def int) {
		r := &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/users/", RawQuery: rawQuery}}
		qe := &queryErrors{}
		n := queryInt(r, qe, name, def)
		vals, present := r.URL.Query()[name]
		if err := qe.err(); err != nil {
			if !present {
				t.Fatalf("an error for an absent parameter: %v", err)
			}
			if n != def {
				t.Fatalf("an error, and %d rather than the default %d", n, def)
			}
			if len(qe.items) != 1 || !slices.Equal(qe.items[0].Loc, []any{"query", name}) || qe.items[0].Msg == "" || qe.items[0].Type == "" {
				t.Fatalf("error items %+v, want one about %q", qe.items, name)
			}
			return
		}
		if !present {
			if n != def {
				t.Fatalf("absent: %d, want the default %d", n, def)
			}
			return
		}
		last := vals[len(vals)-1]
		want, err := strconv.Atoi(last)
		if err != nil || want != n {
			t.Fatalf("%q read as %d (strconv: %d, %v)", last, n, want, err)
		}
		if len(last) > 12 {
			t.Fatalf("%q (%d bytes) accepted", last, len(last))
		}
	})
}
