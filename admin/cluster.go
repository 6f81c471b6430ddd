package admin

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"

	"github.com/rocketgo/rocketgo/internal/properties"
	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// Broker is one broker process as the name servers know it.
type Broker struct {
	Cluster string `json:"cluster"`
	Name    string `json:"brokerName"`
	ID      int64  `json:"brokerId"` // 0 is the master
	Addr    string `json:"addr"`
}

// Cluster is the name servers' view of clusters and brokers.
type Cluster struct {
	Brokers []Broker `json:"brokers"` // sorted by cluster, name, id
}

// Masters lists the master addresses of cluster ("" for every cluster).
func (ci Cluster) Masters(cluster string) []string {
	var out []string
	for _, b := range ci.Brokers {
		if b.ID == wire.MasterID && (cluster == "" || b.Cluster == cluster) {
			out = append(out, b.Addr)
		}
	}
	return out
}

// Broker finds the master (or, without one, any) process of broker name.
func (ci Cluster) Broker(name string) (Broker, bool) {
	var found Broker
	ok := false
	for _, b := range ci.Brokers {
		if b.Name == name && (!ok || b.ID == wire.MasterID) {
			found, ok = b, true
		}
	}
	return found, ok
}

// Cluster asks a name server for GET_BROKER_CLUSTER_INFO.
func (c *Client) Cluster(ctx context.Context) (Cluster, error) {
	resp, err := c.callNameServer(ctx, remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil))
	if err != nil {
		return Cluster{}, fmt.Errorf("admin: cluster info: %w", err)
	}
	info, err := wire.ParseClusterInfo(resp.Body)
	if err != nil {
		return Cluster{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	clusterOf := map[string]string{}
	for cluster, names := range info.ClusterAddrTable {
		for _, n := range names {
			clusterOf[n] = cluster
		}
	}
	var ci Cluster
	for name, bd := range info.BrokerAddrTable {
		cluster := bd.Cluster
		if cluster == "" {
			cluster = clusterOf[name]
		}
		for id, addr := range bd.BrokerAddrs {
			ci.Brokers = append(ci.Brokers, Broker{Cluster: cluster, Name: name, ID: id, Addr: addr})
		}
	}
	sort.Slice(ci.Brokers, func(i, j int) bool {
		a, b := ci.Brokers[i], ci.Brokers[j]
		if a.Cluster != b.Cluster {
			return a.Cluster < b.Cluster
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.ID < b.ID
	})
	return ci, nil
}

// masters resolves the master addresses a command targets: brokerAddr
// alone when set, else every master of cluster ("" for all).
func (c *Client) masters(ctx context.Context, cluster, brokerAddr string) ([]string, error) {
	if brokerAddr != "" {
		return []string{brokerAddr}, nil
	}
	ci, err := c.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	m := ci.Masters(cluster)
	if len(m) == 0 {
		if cluster != "" {
			return nil, fmt.Errorf("%w: %s", ErrClusterNotFound, cluster)
		}
		return nil, fmt.Errorf("%w: no master registered", ErrBrokerNotFound)
	}
	return m, nil
}

// BrokerRuntime returns GET_BROKER_RUNTIME_INFO's table (msgPutTotalTodayNow,
// putTps, commitLogMaxOffset, … as upstream names them) of the broker at
// addr.
func (c *Client) BrokerRuntime(ctx context.Context, addr string) (map[string]string, error) {
	resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil))
	if err != nil {
		return nil, fmt.Errorf("admin: broker runtime: %w", err)
	}
	var kv struct {
		Table map[string]string `json:"table"`
	}
	if err := decodeJSON("broker runtime", resp.Body, &kv); err != nil {
		return nil, err
	}
	return kv.Table, nil
}

// BrokerConfig returns the broker's configuration (GET_BROKER_CONFIG).
func (c *Client) BrokerConfig(ctx context.Context, addr string) (map[string]string, error) {
	resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetBrokerConfig, nil, nil))
	if err != nil {
		return nil, fmt.Errorf("admin: broker config: %w", err)
	}
	m, err := properties.Map(bytes.NewReader(resp.Body))
	if err != nil {
		return nil, fmt.Errorf("%w: broker config: %v", ErrMalformed, err)
	}
	return m, nil
}

// UpdateBrokerConfig sends kv as UPDATE_BROKER_CONFIG to every target
// broker (brokerAddr, else every master of cluster). Brokers refuse keys
// they cannot change while running, with the reason.
func (c *Client) UpdateBrokerConfig(ctx context.Context, cluster, brokerAddr string, kv map[string]string) error {
	if len(kv) == 0 {
		return fmt.Errorf("admin: update broker config: no key given")
	}
	addrs, err := c.masters(ctx, cluster, brokerAddr)
	if err != nil {
		return err
	}
	body := []byte(properties.Format(kv))
	for _, addr := range addrs {
		if _, err := c.call(ctx, addr, remoting.NewRequest(remoting.UpdateBrokerConfig, nil, body)); err != nil {
			return fmt.Errorf("admin: update broker config: %w", err)
		}
	}
	return nil
}

// NameServerConfig returns each name server's configuration
// (GET_NAMESRV_CONFIG), by address.
func (c *Client) NameServerConfig(ctx context.Context) (map[string]map[string]string, error) {
	addrs, err := c.cl.NameServerAddrs(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	out := make(map[string]map[string]string, len(addrs))
	for _, addr := range addrs {
		resp, err := c.call(ctx, addr, remoting.NewRequest(remoting.GetNamesrvConfig, nil, nil))
		if err != nil {
			return nil, fmt.Errorf("admin: name server config: %w", err)
		}
		m, err := properties.Map(bytes.NewReader(resp.Body))
		if err != nil {
			return nil, fmt.Errorf("%w: name server config: %v", ErrMalformed, err)
		}
		out[addr] = m
	}
	return out, nil
}

// PutKV stores a name-server KV entry on every name server (PUT_KV_CONFIG).
func (c *Client) PutKV(ctx context.Context, namespace, key, value string) error {
	err := c.eachNameServer(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.PutKVConfig, &remoting.PutKVConfigRequestHeader{Namespace: namespace, Key: key, Value: value}, nil)
	})
	if err != nil {
		return fmt.Errorf("admin: put kv: %w", err)
	}
	return nil
}

// DeleteKV removes a name-server KV entry from every name server.
func (c *Client) DeleteKV(ctx context.Context, namespace, key string) error {
	err := c.eachNameServer(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.DeleteKVConfig, &remoting.KVConfigKeyHeader{Namespace: namespace, Key: key}, nil)
	})
	if err != nil {
		return fmt.Errorf("admin: delete kv: %w", err)
	}
	return nil
}

// WipeWritePerm makes every name server route broker name read-only, for
// draining it; it returns how many topics each name server changed.
func (c *Client) WipeWritePerm(ctx context.Context, brokerName string) (map[string]int, error) {
	return c.writePerm(ctx, remoting.WipeWritePermOfBroker, brokerName)
}

// AddWritePerm restores write permission of broker name on every name
// server.
func (c *Client) AddWritePerm(ctx context.Context, brokerName string) (map[string]int, error) {
	return c.writePerm(ctx, remoting.AddWritePermOfBroker, brokerName)
}

func (c *Client) writePerm(ctx context.Context, code int16, brokerName string) (map[string]int, error) {
	addrs, err := c.cl.NameServerAddrs(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	out := map[string]int{}
	for _, addr := range addrs {
		req := remoting.NewRequest(code, nil, nil)
		req.Ext.Set("brokerName", brokerName)
		resp, err := c.call(ctx, addr, req)
		if err != nil {
			return nil, fmt.Errorf("admin: write permission of %s: %w", brokerName, err)
		}
		var n int
		for _, k := range []string{"wipeTopicCount", "addTopicCount"} {
			if v, ok := resp.Ext.Get(k); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		out[addr] = n
	}
	return out, nil
}

// sortedKeys lists m's keys in order, for stable output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
