package broker

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rocketgo/rocketgo/remoting/netclient"

	"github.com/rocketgo/rocketgo/remoting"
)

func TestAdminConnectionsStatsAndForwarding(t *testing.T) {
	b, rc := testBroker(t, nil)
	rc.RegisterHandler(remoting.GetConsumerRunningInfo, func(_ context.Context, _ string, req *remoting.Command) *remoting.Command {
		resp := remoting.NewResponse(req, remoting.Success, "")
		resp.Body = []byte(`{"properties":{"from":"client"}}`)
		return resp
	})
	send(t, rc, b.Addr(), "Adm", 0, "", []byte("x"))
	send(t, rc, b.Addr(), "Adm", 0, "", []byte("y"))
	heartbeat(t, rc, b.Addr(), "CG", "Adm", "*")
	invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.UpdateConsumerOffset, &remoting.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "CG", Topic: "Adm", QueueID: 0, CommitOffset: 1}, nil))

	resp := invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetConsumerConnectionList, &remoting.ConsumerGroupHeader{ConsumerGroup: "CG"}, nil))
	var cc ConsumerConnection
	if err := json.Unmarshal(resp.Body, &cc); err != nil || len(cc.ConnectionSet) != 1 || cc.ConnectionSet[0].ClientID != "127.0.0.1@test" || cc.ConnectionSet[0].Language != "GO" {
		t.Fatalf("connections %s: %+v %v", resp.Body, cc, err)
	}
	if _, ok := cc.SubscriptionTable["Adm"]; !ok {
		t.Fatalf("subscription missing: %+v", cc.SubscriptionTable)
	}

	stats := remoting.NewRequest(remoting.GetConsumeStats, nil, nil)
	stats.Ext.Set("consumerGroup", "CG")
	resp = invoke(t, rc, b.Addr(), stats)
	if resp.Code != remoting.Success || !strings.Contains(string(resp.Body), `"brokerOffset":2,"consumerOffset":1`) {
		t.Fatalf("consume stats: %d %s", resp.Code, resp.Body)
	}

	fwd := remoting.NewRequest(remoting.GetConsumerRunningInfo, &remoting.GetConsumerRunningInfoRequestHeader{ConsumerGroup: "CG", ClientID: "127.0.0.1@test"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A second client plays the admin tool; the broker relays to rc's handler.
	admin := netclient.New()
	defer admin.Close()
	resp, err := admin.InvokeSync(ctx, b.Addr(), fwd)
	if err != nil || resp.Code != remoting.Success || !strings.Contains(string(resp.Body), `"from":"client"`) {
		t.Fatalf("forwarded running info: %v %+v", err, resp)
	}
	missing := remoting.NewRequest(remoting.GetConsumerRunningInfo, &remoting.GetConsumerRunningInfoRequestHeader{ConsumerGroup: "CG", ClientID: "nobody"}, nil)
	if resp := invoke(t, rc, b.Addr(), missing); resp.Code != remoting.SystemError {
		t.Fatalf("unknown client: code %d", resp.Code)
	}

	resp = invoke(t, rc, b.Addr(), remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil))
	var kv struct{ Table map[string]string }
	if err := json.Unmarshal(resp.Body, &kv); err != nil || kv.Table["brokerVersion"] != "479" {
		t.Fatalf("runtime info %s: %v", resp.Body, err)
	}
}
