package proxy

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
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

// Authenticator checks the caller of every call (ACL). A refused call
// fails with codes.Unauthenticated (or PermissionDenied when the error
// says so through status).
type Authenticator interface {
	Authenticate(ctx context.Context, s Signature) error
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

func (s *Server) authenticate(ctx context.Context, method string) error {
	if s.cfg.Authenticator == nil {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	auth := first(md, mdAuthorization)
	if auth == "" {
		return status.Error(codes.Unauthenticated, "no authorization metadata")
	}
	ak, sig, err := parseAuthorization(auth)
	if err != nil {
		return status.Error(codes.Unauthenticated, err.Error())
	}
	err = s.cfg.Authenticator.Authenticate(ctx, Signature{AccessKey: ak, DateTime: first(md, mdDateTime), Signature: sig, Method: method})
	if err != nil {
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Error(codes.Unauthenticated, err.Error())
	}
	return nil
}

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
	if err := s.authenticate(ctx, info.FullMethod); err != nil {
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
	if err := s.authenticate(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
