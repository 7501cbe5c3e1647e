package jwttoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// A token verified once is remembered; at every later use it answers as a
// verifier that has never seen it would, at instants on both sides of its
// bounds, in any order.
func TestRememberedTokenAnswersAsAFreshVerifier(t *testing.T) {
	tk := newTokens(t)
	tok, ttl, err := tk.Issue(claims, now)
	if err != nil {
		t.Fatal(err)
	}
	leeway := 60 * time.Second
	instants := []time.Duration{
		0, ttl - time.Nanosecond, ttl, ttl + time.Second, time.Minute,
		-leeway, -leeway - time.Nanosecond, -leeway + time.Nanosecond, -2 * leeway, ttl / 2, -30 * time.Second,
	}
	for _, at := range instants {
		got, gotErr := tk.Verify(tok, now.Add(at))
		want, wantErr := newTokens(t).Verify(tok, now.Add(at))
		if (gotErr == nil) != (wantErr == nil) || gotErr != nil && !errors.Is(gotErr, domain.ErrInvalidToken) {
			t.Errorf("at %s: remembered %v, fresh %v", at, gotErr, wantErr)
		}
		if diff := cmp.Diff(want, got, roleEqual); diff != "" {
			t.Errorf("at %s: claims (-fresh +remembered):\n%s", at, diff)
		}
	}
}

// A token that differs from a remembered one by a character is verified
// on its own.
func TestATokenLikeARememberedOneIsVerified(t *testing.T) {
	tk := newTokens(t)
	tok, _, _ := tk.Issue(claims, now)
	if _, err := tk.Verify(tok, now); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	flip := func(s string) string {
		last := s[len(s)-2]
		if last == 'A' {
			last = 'B'
		} else {
			last = 'A'
		}
		return s[:len(s)-2] + string(last) + s[len(s)-1:]
	}
	for name, forged := range map[string]string{
		"signature": parts[0] + "." + parts[1] + "." + flip(parts[2]),
		"payload":   parts[0] + "." + flip(parts[1]) + "." + parts[2],
		"header":    flip(parts[0]) + "." + parts[1] + "." + parts[2],
		"appended":  tok + "A",
		"cut":       tok[:len(tok)-1],
	} {
		if _, err := tk.Verify(forged, now); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("%s changed: %v, want ErrInvalidToken", name, err)
		}
	}
	// Remembering is per verifier: another key's verifier refuses it.
	other, err := jwttoken.New([]byte("another key another key another key!"), testIssuer, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Verify(tok, now); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("another key's verifier: %v, want ErrInvalidToken", err)
	}
}

// What Verify returns is the caller's: changing it changes nothing kept.
func TestRememberedClaimsAreCopies(t *testing.T) {
	tk := newTokens(t)
	c := ports.AccessClaims{UserID: "u1", Role: domain.RoleAuthenticated, SessionID: "s1", AuthMethods: []string{"pwd", "otp"}}
	tok, _, _ := tk.Issue(c, now)
	// The first answer is verified, the others remembered.
	for i := range 3 {
		got, err := tk.Verify(tok, now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"pwd", "otp"}, got.AuthMethods); diff != "" {
			t.Fatalf("amr of answer %d, after the caller changed the ones before (-want +got):\n%s", i+1, diff)
		}
		got.AuthMethods[0] = "changed"
	}
}
