// Package webhook delivers webhooks after the Standard Webhooks
// specification: a signed JSON POST per attempt, over a connection that is
// refused, in production, unless it reaches a public address.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/usersvc/usersvc/ports"
)

// The Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTimeout bounds one attempt: connecting, sending, and the answer's
// headers and (discarded) body.
const DefaultTimeout = 10 * time.Second

// maxDrained is how much of an answer's body is read (then discarded), so
// that the connection can be reused without a large body holding it up.
const maxDrained = 64 << 10

// Options configure a Sender. The zero value connects to public addresses
// only, with DefaultTimeout.
type Options struct {
	// AllowPrivate lets connections reach any address (development and
	// tests: a receiver on loopback). Without it every connection, whatever
	// the URL named, is refused unless it goes to a public address
	// (domain.IsPublicAddress), checked on the address actually dialled.
	AllowPrivate bool
	// Timeout bounds one attempt; DefaultTimeout if zero.
	Timeout time.Duration
	// Resolver looks host names up; net.DefaultResolver if nil. Tests
	// point names wherever they like.
	Resolver ports.Resolver
	// UserAgent is sent with every attempt; "usersvc-webhooks" if empty.
	UserAgent string
}

// Sender implements ports.WebhookSender.
type Sender struct {
	client    *http.Client
	userAgent string
}

var _ ports.WebhookSender = (*Sender)(nil)

// New returns a sender with its own HTTP client: no proxy (a proxy would
// dial on our behalf, past the address check), no redirects followed (a
// 3xx is a failed attempt, as Standard Webhooks advises), and a dialer
// that checks every address it connects to.
func New(opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "usersvc-webhooks"
	}
	g := newGuard(opts.AllowPrivate, opts.Resolver, opts.Timeout)
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           g.dialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   opts.Timeout,
		ResponseHeaderTimeout: opts.Timeout,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{
		client: &http.Client{
			Transport: tr,
			Timeout:   opts.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		userAgent: opts.UserAgent,
	}
}

// Send implements ports.WebhookSender: one POST of the event's payload,
// signed at now. A 2xx answer is a delivery; anything else, an answer
// of another status or none, is an error.
func (s *Sender) Send(ctx context.Context, r ports.WebhookRequest, now time.Time) (int, error) {
	body, err := Payload(r.Event)
	if err != nil {
		return 0, err
	}
	if len(r.Key) == 0 {
		return 0, errors.New("webhook: no signing key")
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", withoutURL(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.userAgent)
	// Set directly: the specification writes the names in lower case.
	req.Header[HeaderID] = []string{r.Event.ID}
	req.Header[HeaderTimestamp] = []string{ts}
	req.Header[HeaderSignature] = []string{"v1," + sign(r.Key, r.Event.ID, ts, body)}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", withoutURL(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrained))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook: the endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// sign is the Standard Webhooks symmetric signature: the base64 of the
// HMAC-SHA256, keyed with the secret's bytes, of "{id}.{timestamp}.{body}".
func sign(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// withoutURL drops the URL net/http puts in its errors: an endpoint's URL
// may carry a token of its owner's, and these errors are logged and stored.
func withoutURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("%s: timed out: %w", ue.Op, ue.Err)
		}
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
