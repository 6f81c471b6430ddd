package auth

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rocketgo/rocketgo/remoting"
)

func sendRequest(body string) *remoting.Command {
	req := &remoting.Command{Code: remoting.SendMessage, Body: []byte(body)}
	req.Ext.Set("topic", "TopicTest")
	req.Ext.Set("producerGroup", "PG")
	req.Ext.Set("queueId", "1")
	return req
}

// The expected signatures were computed outside Go, from upstream's
// documented algorithm (values sorted by key, then the body; HMAC-SHA1;
// base64), with:
//
//	printf 'RocketMQPG1TopicTestHello' | openssl dgst -sha1 -hmac 12345678 -binary | base64
//	printf 'RocketMQtokPG1TopicTest' | openssl dgst -sha1 -hmac 12345678 -binary | base64
func TestSignGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		creds Credentials
		body  string
		want  string
	}{
		{"plain", Credentials{AccessKey: "RocketMQ", SecretKey: "12345678"}, "Hello", "TYI2ll464TNDg3jp0G+9XxCDABk="},
		{"token", Credentials{AccessKey: "RocketMQ", SecretKey: "12345678", SecurityToken: "tok"}, "", "LNwhBxKh2I+4t58OShOHJrb5VUo="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := sendRequest(tc.body)
			Sign(req, tc.creds)
			if got, _ := req.Ext.Get(FieldSignature); got != tc.want {
				t.Fatalf("signature %q, want %q", got, tc.want)
			}
			if ak, _ := req.Ext.Get(FieldAccessKey); ak != tc.creds.AccessKey {
				t.Fatalf("AccessKey %q", ak)
			}
			tok, ok := req.Ext.Get(FieldSecurityToken)
			if ok != (tc.creds.SecurityToken != "") || tok != tc.creds.SecurityToken {
				t.Fatalf("SecurityToken %q %v", tok, ok)
			}
			// Re-signing (a retry) gives the same signature: the old one
			// is not part of the content.
			Sign(req, tc.creds)
			if got, _ := req.Ext.Get(FieldSignature); got != tc.want {
				t.Fatalf("re-signed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestContentOrderAndExclusions(t *testing.T) {
	var e remoting.ExtFields
	e.Set("b", "2")
	e.Set("Signature", "x")
	e.Set("a", "1")
	e.Set("_UNIQUE_KEY_QUERY", "true")
	e.Set("B", "0")
	if got := string(AppendContent(nil, &e)); got != "012" {
		t.Fatalf("content %q, want %q", got, "012")
	}
}

func TestVerifier(t *testing.T) {
	c := Credentials{AccessKey: "ak", SecretKey: "sk"}
	req := sendRequest("payload")
	Sign(req, c)
	sig, _ := req.Ext.Get(FieldSignature)
	v := NewVerifier("sk")
	if !v.Verify(req, sig) {
		t.Fatal("valid signature refused")
	}
	if NewVerifier("other").Verify(req, sig) {
		t.Fatal("wrong key accepted")
	}
	req.Body = []byte("tampered")
	if v.Verify(req, sig) {
		t.Fatal("tampered body accepted")
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 1<<16), sig + "="} {
		if v.Verify(req, bad) {
			t.Fatalf("signature %.20q accepted", bad)
		}
	}
}

func TestStaticProvider(t *testing.T) {
	if _, err := (Static{}).Credentials(context.Background()); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("empty static: %v", err)
	}
	c, err := Static{AccessKey: "a", SecretKey: "b"}.Credentials(context.Background())
	if err != nil || c.AccessKey != "a" {
		t.Fatalf("%v %v", c, err)
	}
}

func BenchmarkSign(b *testing.B) {
	c := Credentials{AccessKey: "RocketMQ", SecretKey: "12345678"}
	req := sendRequest(strings.Repeat("x", 128))
	b.ReportAllocs()
	for b.Loop() {
		Sign(req, c)
	}
}

func BenchmarkVerify(b *testing.B) {
	c := Credentials{AccessKey: "RocketMQ", SecretKey: "12345678"}
	req := sendRequest(strings.Repeat("x", 128))
	Sign(req, c)
	sig, _ := req.Ext.Get(FieldSignature)
	v := NewVerifier(c.SecretKey)
	b.ReportAllocs()
	for b.Loop() {
		if !v.Verify(req, sig) {
			b.Fatal("refused")
		}
	}
}

func BenchmarkSignerSign(b *testing.B) {
	s := NewSigner(Credentials{AccessKey: "RocketMQ", SecretKey: "12345678"})
	req := sendRequest(strings.Repeat("x", 128))
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(req)
	}
}

// TestContentMatchesSortedMap compares AppendContent with a plain
// map-then-sort reference (Java's TreeMap) on shuffled keys with repeats.
func TestContentMatchesSortedMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		var e remoting.ExtFields
		ref := map[string]string{}
		for range rng.IntN(40) {
			k := string(rune('A' + rng.IntN(58)))
			if rng.IntN(3) == 0 {
				k += "x"
			}
			v := strconv.Itoa(rng.IntN(1000))
			e.Set(k, v) // Set replaces: last value wins, as in the map
			ref[k] = v
		}
		keys := make([]string, 0, len(ref))
		for k := range ref {
			if k != FieldSignature {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var want strings.Builder
		for _, k := range keys {
			want.WriteString(ref[k])
		}
		if got := string(AppendContent(nil, &e)); got != want.String() {
			t.Fatalf("content %q, want %q (ext %v)", got, want.String(), e.String())
		}
	}
}
