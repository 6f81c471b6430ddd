// Package auth signs remoting requests for brokers that have ACL switched
// on, the way Apache RocketMQ's clients do (the classic plain-ACL scheme):
// every request carries the ext fields AccessKey, Signature and, when set,
// SecurityToken, where Signature is the base64 (standard alphabet, padded)
// HMAC-SHA1, keyed with the SecretKey, of the concatenated ext values sorted
// by key (Signature itself excluded, AccessKey and SecurityToken included)
// followed by the body bytes.
//
// The server side (server/acl) verifies with the same Content function, so
// a signer and a verifier built from this package cannot drift apart.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"hash"
	"sync"
	"sync/atomic"

	"github.com/rocketgo/rocketgo/remoting"
)

// Ext field names of the classic ACL scheme.
const (
	FieldAccessKey     = "AccessKey"
	FieldSignature     = "Signature"
	FieldSecurityToken = "SecurityToken"

	// uniqueKeyQueryField is a flag some query requests carry; upstream
	// brokers leave it out of the signed content, so signers and verifiers
	// here do too.
	uniqueKeyQueryField = "_UNIQUE_KEY_QUERY"
)

// SignatureLen is the length of an encoded signature (20 bytes in base64).
const SignatureLen = 28

// ErrNoCredentials is returned by a Provider that has nothing to sign with.
var ErrNoCredentials = errors.New("auth: no credentials")

// Credentials are one account's keys (upstream's SessionCredentials).
// SecurityToken is optional (temporary credentials of managed clusters).
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// Valid reports whether both keys are set.
func (c Credentials) Valid() bool { return c.AccessKey != "" && c.SecretKey != "" }

// Provider supplies the credentials to sign the next request with, so that
// keys can be rotated without rebuilding the client (Java's
// SessionCredentialsProvider). It is called once per request and must be
// safe for concurrent use and cheap.
type Provider interface {
	Credentials(ctx context.Context) (Credentials, error)
}

// Static is a Provider that always returns the same credentials.
type Static Credentials

// Credentials implements Provider.
func (s Static) Credentials(context.Context) (Credentials, error) {
	c := Credentials(s)
	if !c.Valid() {
		return c, ErrNoCredentials
	}
	return c, nil
}

// Sign adds AccessKey, SecurityToken (when set) and Signature to req's ext
// fields. A Signature already present (a retried request) is replaced.
// Sign keys a new HMAC on every call; NewSigner keeps keyed state for reuse.
func Sign(req *remoting.Command, c Credentials) {
	k := newKeyed(c.SecretKey)
	k.sign(req, c)
}

// Signer signs requests with one set of credentials, reusing keyed HMAC
// state between calls. It is safe for concurrent use.
type Signer struct {
	creds Credentials
	pool  sync.Pool // *keyed
}

// NewSigner returns a Signer for c.
func NewSigner(c Credentials) *Signer {
	s := &Signer{creds: c}
	s.pool.New = func() any { return newKeyed(c.SecretKey) }
	return s
}

// Sign signs req (see the package function Sign).
func (s *Signer) Sign(req *remoting.Command) {
	k := s.pool.Get().(*keyed)
	k.sign(req, s.creds)
	s.pool.Put(k)
}

// ProviderSigner signs with whatever a Provider returns, keeping the keyed
// state of the latest credentials so that steady keys cost what a Signer
// costs. It is safe for concurrent use.
type ProviderSigner struct {
	p      Provider
	latest atomic.Pointer[Signer]
}

// NewProviderSigner returns a ProviderSigner reading p.
func NewProviderSigner(p Provider) *ProviderSigner { return &ProviderSigner{p: p} }

// Sign signs req with p's current credentials; when p fails, req is left
// unsigned (the broker will refuse it with a clear remark).
func (ps *ProviderSigner) Sign(req *remoting.Command) {
	c, err := ps.p.Credentials(context.Background())
	if err != nil {
		return
	}
	s := ps.latest.Load()
	if s == nil || s.creds != c {
		s = NewSigner(c)
		ps.latest.Store(s)
	}
	s.Sign(req)
}

// keyed is an HMAC-SHA1 keyed once, with scratch space for the content.
type keyed struct {
	mac     hash.Hash
	content []byte
	sum     []byte
	enc     [SignatureLen]byte
}

func newKeyed(secretKey string) *keyed {
	return &keyed{mac: hmac.New(sha1.New, []byte(secretKey)), content: make([]byte, 0, 512), sum: make([]byte, 0, sha1.Size)}
}

// compute leaves the encoded signature of req in k.enc.
func (k *keyed) compute(req *remoting.Command) {
	k.content = AppendContent(k.content[:0], &req.Ext)
	k.mac.Reset()
	k.mac.Write(k.content)
	k.mac.Write(req.Body)
	k.sum = k.mac.Sum(k.sum[:0])
	base64.StdEncoding.Encode(k.enc[:], k.sum)
	if cap(k.content) > 64<<10 { // do not keep a huge header's buffer
		k.content = make([]byte, 0, 512)
	}
}

func (k *keyed) sign(req *remoting.Command, c Credentials) {
	req.Ext.Set(FieldAccessKey, c.AccessKey)
	if c.SecurityToken != "" {
		req.Ext.Set(FieldSecurityToken, c.SecurityToken)
	}
	k.compute(req)
	req.Ext.Set(FieldSignature, string(k.enc[:]))
}

// MaxSignedFields is the most ext fields a verifiable request may carry:
// real requests have about twenty, and the ordering is quadratic, so a
// hostile header with thousands of keys is refused instead of sorted.
const MaxSignedFields = 128

// maxSortedFields bounds the stack array used to order ext keys; requests
// with more fields (none exist upstream) fall back to a heap slice.
const maxSortedFields = 32

// AppendContent appends the signed part of ext to dst: the values of every
// field except Signature and _UNIQUE_KEY_QUERY, ordered by key (byte order,
// as Java's TreeMap orders ASCII keys). A key repeated on the wire counts
// once, with its last value, as it would in the Java map.
func AppendContent(dst []byte, ext *remoting.ExtFields) []byte {
	var stack [maxSortedFields][2]string
	pairs := stack[:0]
	ext.Range(func(k, v string) bool {
		if k == FieldSignature || k == uniqueKeyQueryField {
			return true
		}
		n := len(pairs)
		// Headers mostly arrive in key order (SEND_MESSAGE_V2's a, b, c,
		// ...), so try the end first; otherwise binary-search the slot.
		i := n
		if n > 0 && pairs[n-1][0] >= k {
			lo, hi := 0, n
			for lo < hi {
				m := int(uint(lo+hi) >> 1)
				if pairs[m][0] < k {
					lo = m + 1
				} else {
					hi = m
				}
			}
			i = lo
		}
		if i < n && pairs[i][0] == k { // repeated key: last value wins
			pairs[i][1] = v
			return true
		}
		pairs = append(pairs, [2]string{})
		copy(pairs[i+1:], pairs[i:n])
		pairs[i] = [2]string{k, v}
		return true
	})
	for _, p := range pairs {
		dst = append(dst, p[1]...)
	}
	return dst
}

// Verifier checks signatures made with one secret key. It keeps its keyed
// HMAC state between calls, so a check costs no allocation; it is not safe
// for concurrent use (pool one per goroutine).
type Verifier struct{ k *keyed }

// NewVerifier returns a Verifier for secretKey.
func NewVerifier(secretKey string) *Verifier { return &Verifier{k: newKeyed(secretKey)} }

// Verify reports whether signature is the signature of req's ext fields and
// body under the Verifier's key. The comparison takes the same time
// wherever the first difference is.
func (v *Verifier) Verify(req *remoting.Command, signature string) bool {
	if len(signature) != SignatureLen || req.Ext.Len() > MaxSignedFields {
		return false
	}
	v.k.compute(req)
	var diff byte
	for i := range SignatureLen {
		diff |= v.k.enc[i] ^ signature[i]
	}
	return diff == 0
}
