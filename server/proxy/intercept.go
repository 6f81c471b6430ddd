package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/rocketgo/rocketgo/auth"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys the 5.x clients send with every call.
const (
	mdClientID      = "x-mq-client-id"
	mdDateTime      = "x-mq-date-time"
	mdAuthorization = "authorization"
	mdNamespace     = "x-mq-namespace"
)

// Signature is what a 5.x client's authorization metadata says:
// "MQv2-HMAC-SHA1 Credential=<AK>/<region>/<service>,
// SignedHeaders=x-mq-date-time, Signature=<hex HMAC-SHA1 of the date-time
// with the secret key>".
type Signature struct {
	AccessKey string
	DateTime  string
	Signature string // hex
	Method    string // full gRPC method name
}

// Authenticator checks the caller of every call (ACL) and returns the
// credentials the proxy signs the call's remoting requests with, so that
// the brokers apply that account's permissions. A refused call fails with
// codes.Unauthenticated (or the status the error carries).
type Authenticator interface {
	Authenticate(ctx context.Context, s Signature) (auth.Credentials, error)
}

// HMACAuthenticator verifies the 5.x clients' signature — the hex
// HMAC-SHA1 of the x-mq-date-time value keyed with the account's secret
// key — against the accounts secretKey knows (acl.Checker.SecretKey), and
// signs the caller's remoting requests with the same account.
func HMACAuthenticator(secretKey func(accessKey string) (string, bool)) Authenticator {
	return hmacAuthenticator(secretKey)
}

type hmacAuthenticator func(string) (string, bool)

func (f hmacAuthenticator) Authenticate(_ context.Context, s Signature) (auth.Credentials, error) {
	secret, ok := f(s.AccessKey)
	if !ok {
		return auth.Credentials{}, status.Errorf(codes.Unauthenticated, "unknown access key %q", s.AccessKey)
	}
	if s.DateTime == "" {
		return auth.Credentials{}, status.Error(codes.Unauthenticated, "no x-mq-date-time metadata")
	}
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return auth.Credentials{}, status.Error(codes.Unauthenticated, "signature is not hex")
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(s.DateTime))
	if !hmac.Equal(got, mac.Sum(nil)) {
		return auth.Credentials{}, status.Error(codes.Unauthenticated, "signature mismatch")
	}
	return auth.Credentials{AccessKey: s.AccessKey, SecretKey: secret}, nil
}

type credentialsKey struct{}

// credentialsFrom returns the caller's credentials an Authenticator
// approved, if any.
func credentialsFrom(ctx context.Context) (auth.Credentials, bool) {
	c, ok := ctx.Value(credentialsKey{}).(auth.Credentials)
	return c, ok
}

// Observer is told of every finished call, for metrics. code is the gRPC
// status code's name ("OK" also for calls whose 5.x status is an error).
type Observer interface {
	ObserveCall(method, code string, d time.Duration)
}

// parseAuthorization reads the authorization metadata value.
func parseAuthorization(v string) (ak, sig string, err error) {
	const scheme = "MQv2-HMAC-SHA1"
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), scheme)
	if !ok {
		return "", "", fmt.Errorf("unsupported authorization scheme")
	}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Credential":
			ak, _, _ = strings.Cut(val, "/")
		case "Signature":
			sig = val
		}
	}
	if ak == "" || sig == "" {
		return "", "", fmt.Errorf("authorization without Credential or Signature")
	}
	return ak, sig, nil
}

func (s *Server) authenticate(ctx context.Context, method string) (context.Context, error) {
	if s.cfg.Authenticator == nil {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	header := first(md, mdAuthorization)
	if header == "" {
		return nil, status.Error(codes.Unauthenticated, "no authorization metadata")
	}
	ak, sig, err := parseAuthorization(header)
	if err != nil {
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	creds, err := s.cfg.Authenticator.Authenticate(ctx, Signature{AccessKey: ak, DateTime: first(md, mdDateTime), Signature: sig, Method: method})
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return nil, err
		}
		return nil, status.Error(codes.Unauthenticated, err.Error())
	}
	return context.WithValue(ctx, credentialsKey{}, creds), nil
}

// authedStream carries the authenticated context into a stream handler.
type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (a *authedStream) Context() context.Context { return a.ctx }

func (s *Server) observe(method string, err error, start time.Time) {
	if s.cfg.Observer != nil {
		s.cfg.Observer.ObserveCall(method, status.Code(err).String(), time.Since(start))
	}
}

func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("gRPC handler panicked", "method", info.FullMethod, "panic", r)
			resp, err = nil, status.Errorf(codes.Internal, "internal error")
		}
		s.observe(info.FullMethod, err, start)
	}()
	ctx, err = s.authenticate(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("gRPC handler panicked", "method", info.FullMethod, "panic", r)
			err = status.Errorf(codes.Internal, "internal error")
		}
		s.observe(info.FullMethod, err, start)
	}()
	ctx, err := s.authenticate(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	return handler(srv, &authedStream{ServerStream: ss, ctx: ctx})
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
