package embedded_test

import (
	"context"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/consumer"
	"github.com/rocketgo/rocketgo/internal/tlstest"
	"github.com/rocketgo/rocketgo/message"
	"github.com/rocketgo/rocketgo/producer"
	"github.com/rocketgo/rocketgo/server/broker"
	"github.com/rocketgo/rocketgo/server/embedded/embeddedtest"
)

// TestTLSModes runs our SDK over TLS against a name server and broker in
// permissive and enforcing mode, and a plain client against both.
func TestTLSModes(t *testing.T) {
	pair := tlstest.New(t)
	certFile, keyFile := pair.Files(t)
	for _, mode := range []string{"permissive", "enforcing"} {
		t.Run(mode, func(t *testing.T) {
			srv := embeddedtest.Start(t, func(bc *broker.Config) {
				bc.TlsMode, bc.TlsCertFile, bc.TlsKeyFile = mode, certFile, keyFile
			})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			topic := "TLSTopic"

			p, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("tls-pg"), producer.WithTLS(pair.Client))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Shutdown(context.Background())
			if _, err := p.SendSync(ctx, message.New(topic, []byte("over tls"))); err != nil {
				t.Fatalf("TLS send: %v", err)
			}

			plainCtx, plainCancel := context.WithTimeout(ctx, 3*time.Second)
			defer plainCancel()
			plain, err := producer.New(producer.WithNameServers(srv.NamesrvAddr()), producer.WithGroup("plain-pg"), producer.WithRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Shutdown(context.Background())
			_, err = plain.SendSync(plainCtx, message.New(topic, []byte("plain")))
			if mode == "enforcing" && err == nil {
				t.Fatal("plain client served in enforcing mode")
			}
			if mode == "permissive" && err != nil {
				t.Fatalf("plain client refused in permissive mode: %v", err)
			}

			c, err := consumer.NewLitePull(consumer.WithNameServers(srv.NamesrvAddr()), consumer.WithGroup("tls-cg"),
				consumer.WithConsumeFrom(consumer.ConsumeFromFirstOffset), consumer.WithTLS(pair.Client))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Subscribe(topic, "*"); err != nil {
				t.Fatal(err)
			}
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer c.Shutdown(context.Background())
			for {
				msgs, err := c.Poll(ctx)
				if err != nil {
					t.Fatalf("poll: %v", err)
				}
				// In permissive mode the plain client's message is there too.
				for _, m := range msgs {
					switch string(m.Body) {
					case "over tls":
						return
					case "plain":
						if mode == "enforcing" {
							t.Fatal("the plain client's message was stored in enforcing mode")
						}
					default:
						t.Fatalf("body %q", m.Body)
					}
				}
			}
		})
	}
}
