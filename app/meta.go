package app

import (
	"context"

	"github.com/usersvc/usersvc/domain"
)

type ctxKey int

const (
	clientIPKey ctxKey = iota
	userAgentKey
)

// WithClientIP records the caller's address for the audit log. It is
// request metadata, never used to decide who may do what.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey, ip)
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey).(string)
	return ip
}

// WithUserAgent records the caller's User-Agent, kept with the sessions it
// opens so that their owner can tell them apart. Request metadata only.
func WithUserAgent(ctx context.Context, ua string) context.Context {
	return context.WithValue(ctx, userAgentKey, ua)
}

func userAgent(ctx context.Context) string {
	ua, _ := ctx.Value(userAgentKey).(string)
	return ua
}

// event builds an audit event of the current request.
func (s *Service) event(ctx context.Context, typ domain.AuditEventType, actorID, targetID, detail string) domain.AuditEvent {
	return domain.AuditEvent{
		Type: typ, ActorID: actorID, TargetID: targetID, IP: clientIP(ctx),
		At: s.clock.Now(), Detail: detail,
	}
}
