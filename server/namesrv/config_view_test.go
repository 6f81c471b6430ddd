package namesrv

import (
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/internal/properties"
	"github.com/rocketgo/rocketgo/remoting"
)

func TestGetNamesrvConfigAndCounts(t *testing.T) {
	kv := t.TempDir() + "/kv.json"
	s := startServer(t, WithScanInterval(3*time.Second), WithKVConfigPath(kv))
	rc := newRemotingClient(t)
	resp, err := rc.InvokeSync(ctxT(t), s.Addr(), remoting.NewRequest(remoting.GetNamesrvConfig, nil, nil))
	if err != nil || resp.Code != remoting.Success {
		t.Fatalf("get config: %v %+v", err, resp)
	}
	m, err := properties.Map(strings.NewReader(string(resp.Body)))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(s.Addr(), ":")
	if m["listenPort"] != port || m["bindAddress"] != "127.0.0.1" || m["kvConfigPath"] != kv ||
		m["scanNotActiveBrokerInterval"] != "3000" || m["brokerTimeoutMillis"] != "120000" {
		t.Fatalf("config %v", m)
	}

	if b, topics := s.Counts(); b != 0 || topics != 0 {
		t.Fatalf("empty server counts %d brokers, %d topics", b, topics)
	}
	mustRegister(t, newNSClient(t, rc, s.Addr()), brokerReq("C", "b", "127.0.0.1:10911", 0, 1, "T1", "T2"))
	if b, topics := s.Counts(); b != 1 || topics != 2 {
		t.Fatalf("counts %d brokers, %d topics", b, topics)
	}
}
