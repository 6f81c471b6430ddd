//go:build !race

// The official Go client has data races of its own, so this module's tests
// are built without -race and named ...Official... (see .ci/run).

// Package tlsmaster checks the official Go client's TLS support, which
// only its master branch has (WithTls, pseudo-version
// v2.1.3-0.20251226070945-2173d070fd1b). It is a module of its own because
// the interop module pins v2.1.2 and one module holds one version.
package tlsmaster

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	oconsumer "github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	oproducer "github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/rocketgo/rocketgo/internal/tlstest"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// TestOfficialMasterWithTLS: the official client's master branch with
// WithTls(true) produces and consumes against a name server and broker in
// TLS enforcing mode (it skips certificate verification, so a self-signed
// certificate does).
func TestOfficialMasterWithTLS(t *testing.T) {
	rlog.SetLogLevel("fatal")
	pair := tlstest.New(t)
	certFile, keyFile := pair.Files(t)
	srv := embeddedtest.Start(t, func(bc *broker.Config) {
		bc.TlsMode, bc.TlsCertFile, bc.TlsKeyFile = "enforcing", certFile, keyFile
	})
	const topic = "OfficialTLSTopic"
	ns := primitive.NewPassthroughResolver([]string{srv.NamesrvAddr()})

	p, err := rocketmq.NewProducer(oproducer.WithNsResolver(ns), oproducer.WithGroupName("official-tls-pg"), oproducer.WithTls(true), oproducer.WithRetry(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 3 {
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte{'t', byte('0' + i)}))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send over TLS: %v %v", res, err)
		}
	}

	c, err := rocketmq.NewPushConsumer(oconsumer.WithNsResolver(ns), oconsumer.WithGroupName("official-tls-cg"),
		oconsumer.WithConsumeFromWhere(oconsumer.ConsumeFromFirstOffset), oconsumer.WithTls(true))
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	if err := c.Subscribe(topic, oconsumer.MessageSelector{Type: oconsumer.TAG, Expression: "*"}, func(_ context.Context, msgs ...*primitive.MessageExt) (oconsumer.ConsumeResult, error) {
		got.Add(int64(len(msgs)))
		return oconsumer.ConsumeSuccess, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Shutdown()
	for deadline := time.Now().Add(20 * time.Second); got.Load() < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("official consumer over TLS received %d of 3", got.Load())
		}
	}
	// A plain client's refusal in enforcing mode is checked with our own
	// client (server/embedded TestTLSModes): this client's WithTls writes
	// into a RemotingClientConfig its options share by pointer, so every
	// later client in the process dials TLS too.
}
