package httpapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// tricky are strings encoding/json escapes, one way or another.
var tricky = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 😀", "\u2028\u2029", "bad \xff utf-8 \xc3", "\xed\xa0\x80 surrogate",
	"https://users.example.com/users/0193?skip=0&limit=10",
}

func randomString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return tricky[r.IntN(len(tricky))]
	}
	b := make([]byte, r.IntN(40))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func randomTime(r *rand.Rand) time.Time {
	t := time.Unix(r.Int64N(253402300799), 0).UTC() // years 1970 to 9999
	switch r.IntN(3) {
	case 0:
		return t
	case 1:
		return t.Add(time.Duration(r.IntN(1_000_000)) * time.Microsecond)
	}
	return t.Add(time.Duration(r.IntN(1_000_000_000)))
}

func randomUser(r *rand.Rand) userJSON {
	opt := func() *string {
		if r.IntN(2) == 0 {
			return nil
		}
		s := randomString(r)
		return &s
	}
	optTime := func() *time.Time {
		if r.IntN(2) == 0 {
			return nil
		}
		t := randomTime(r)
		return &t
	}
	u := userJSON{
		ID: randomString(r), Email: randomString(r), Nickname: randomString(r),
		FirstName: opt(), LastName: opt(), Bio: opt(), PreferredLanguage: opt(),
		ProfilePictureURL: opt(), LinkedInProfileURL: opt(), GitHubProfileURL: opt(),
		Role: randomString(r), IsProfessional: r.IntN(2) == 0, ProfessionalStatusUpdatedAt: optTime(),
		EmailVerified: r.IntN(2) == 0, IsLocked: r.IntN(2) == 0, MFAEnabled: r.IntN(2) == 0,
		LastLoginAt: optTime(), CreatedAt: randomTime(r), UpdatedAt: randomTime(r),
		InvitationPending: r.IntN(2) == 0,
	}
	if r.IntN(5) > 0 {
		u.Links = []link{}
		for range r.IntN(5) {
			u.Links = append(u.Links, link{Rel: randomString(r), Href: randomString(r), Method: randomString(r)})
		}
	}
	return u
}

// sameAsEncodingJSON fails t unless v's appender writes what
// json.Encoder writes.
func sameAsEncodingJSON(t *testing.T, v jsonAppender) {
	t.Helper()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(v); err != nil {
		t.Fatal(err)
	}
	got := append(v.appendJSON(nil), '\n')
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("appendJSON differs from encoding/json:\n got %q\nwant %q", got, want.Bytes())
	}
}

func TestUserJSONAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		sameAsEncodingJSON(t, randomUser(r))
	}
	for _, s := range tricky {
		u := randomUser(r)
		u.Email, u.Bio = s, &s
		sameAsEncodingJSON(t, u)
	}
	// Every single byte, alone and between letters.
	for c := range 256 {
		u := randomUser(r)
		u.Nickname, u.ID = string(rune(c)), "a"+string([]byte{byte(c)})+"b"
		sameAsEncodingJSON(t, u)
	}
}

func TestPagesAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := range 6 {
		var items []userJSON
		if n > 0 {
			items = []userJSON{}
		}
		for range n - 1 {
			items = append(items, randomUser(r))
		}
		links := []link{{Rel: "self", Href: "http://x/users/?skip=0&limit=10", Method: "GET"}}
		if n == 2 {
			links = nil
		}
		sameAsEncodingJSON(t, userPageJSON{Items: items, Total: r.IntN(1_000_000), Page: n, Size: len(items), Links: links})
		cursor := "Y3Vyc29y<&>"
		page := userCursorPageJSON{Items: items, Size: len(items), Links: links}
		sameAsEncodingJSON(t, page)
		page.NextCursor = &cursor
		sameAsEncodingJSON(t, page)
	}
}

func FuzzUserJSON(f *testing.F) {
	for _, s := range tricky {
		f.Add(s, int64(0))
	}
	f.Add(strings.Repeat("é", 100), int64(1_700_000_000_123_456_789))
	f.Fuzz(func(t *testing.T, s string, ns int64) {
		at := time.Unix(0, ns).UTC()
		if at.Year() < 0 || at.Year() > 9999 {
			return
		}
		u := userJSON{ID: s, Email: s, Nickname: s, Bio: &s, Role: s, CreatedAt: at, UpdatedAt: at, LastLoginAt: &at,
			Links: []link{{Rel: s, Href: s, Method: s}}}
		sameAsEncodingJSON(t, u)
	})
}
