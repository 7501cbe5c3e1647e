package jwttoken

import (
	"strconv"
	"testing"
	"time"

	"github.com/usersvc/usersvc/ports"
)

// However many tokens are verified, at most two generations are kept, and
// the latest ones are among them.
func TestRememberedTokensAreBounded(t *testing.T) {
	var v verifiedTokens
	at := time.Unix(1_700_000_000, 0)
	n := 3*verifiedMax + 7
	for i := range n {
		v.put("token-"+strconv.Itoa(i), verifiedToken{claims: ports.AccessClaims{UserID: strconv.Itoa(i)}, from: at, until: at.Add(time.Hour)})
	}
	if kept := len(v.cur) + len(v.prev); kept > 2*verifiedMax {
		t.Errorf("%d tokens kept, want at most %d", kept, 2*verifiedMax)
	}
	for _, i := range []int{n - 1, n - verifiedMax} {
		if c, ok := v.get("token-"+strconv.Itoa(i), at); !ok || c.UserID != strconv.Itoa(i) {
			t.Errorf("token %d of %d: %v, %v; want it kept", i, n, c, ok)
		}
	}
	if _, ok := v.get("token-0", at); ok {
		t.Error("the first token is still kept")
	}
}
