package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/netclient"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// ErrNoLeader reports that no controller node named a leader: the cluster
// lost its quorum, or none of the nodes answered.
var ErrNoLeader = errors.New("controller: no controller leader reachable")

// ResponseError is a controller's refusal: its response code and remark.
type ResponseError struct {
	Code   int16
	Remark string
	Addr   string
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("controller %s: %s (%d): %s", e.Addr, remoting.CodeName(e.Code, true), e.Code, e.Remark)
}

// IsCode reports whether err is a ResponseError with code.
func IsCode(err error, code int16) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.Code == code
}

// Client sends controller requests for a broker or a tool. It finds the
// leader with CONTROLLER_GET_METADATA_INFO and follows it when it moves.
// It is safe for concurrent use; it does not own rpc.
type Client struct {
	rpc   *netclient.Client
	addrs []string

	mu     sync.Mutex
	leader string
}

// NewClient uses rpc to reach the controllers in addrs ("host:port"
// separated by ';', upstream's controllerAddr).
func NewClient(rpc *netclient.Client, addrs string) (*Client, error) {
	c := &Client{rpc: rpc}
	for _, a := range strings.Split(addrs, ";") {
		if a = strings.TrimSpace(a); a != "" {
			c.addrs = append(c.addrs, a)
		}
	}
	if len(c.addrs) == 0 {
		return nil, fmt.Errorf("%w: controllerAddr is empty", ErrInvalidConfig)
	}
	return c, nil
}

// Addrs lists the controller addresses.
func (c *Client) Addrs() []string { return c.addrs }

// Metadata asks one controller node who leads.
func (c *Client) Metadata(ctx context.Context, addr string) (MetadataHeader, error) {
	var h MetadataHeader
	resp, err := c.rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.ControllerGetMetadataInfo, nil, nil))
	if err != nil {
		return h, err
	}
	if resp.Code != remoting.Success {
		return h, &ResponseError{Code: resp.Code, Remark: resp.Remark, Addr: addr}
	}
	err = resp.DecodeHeader(&h)
	return h, err
}

// Leader finds the leader's address, asking each node in turn.
func (c *Client) Leader(ctx context.Context) (string, error) {
	var errs []error
	for _, a := range c.addrs {
		md, err := c.Metadata(ctx, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if md.LeaderAddress != "" {
			c.mu.Lock()
			c.leader = md.LeaderAddress
			c.mu.Unlock()
			return md.LeaderAddress, nil
		}
	}
	if len(errs) == 0 {
		return "", fmt.Errorf("%w: no node knows a leader", ErrNoLeader)
	}
	return "", fmt.Errorf("%w: %w", ErrNoLeader, errors.Join(errs...))
}

func (c *Client) cachedLeader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

func (c *Client) forgetLeader(addr string) {
	c.mu.Lock()
	if c.leader == addr {
		c.leader = ""
	}
	c.mu.Unlock()
}

// call sends one request to the leader. When the node it reached is not
// (or no longer) the leader, or cannot be reached, it looks the leader up
// once more and retries there.
func (c *Client) call(ctx context.Context, code int16, h remoting.Header, body []byte) (*remoting.Command, error) {
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		addr := c.cachedLeader()
		if addr == "" {
			var err error
			if addr, err = c.Leader(ctx); err != nil {
				return nil, err
			}
		}
		resp, err := c.rpc.InvokeSync(ctx, addr, remoting.NewRequest(code, h, body))
		if err != nil {
			c.forgetLeader(addr)
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if resp.Code == remoting.ControllerNotLeader {
			c.forgetLeader(addr)
			lastErr = &ResponseError{Code: resp.Code, Remark: resp.Remark, Addr: addr}
			continue
		}
		return resp, nil
	}
	return nil, lastErr
}

// expect returns the response when its code is one of ok, else the
// refusal as a ResponseError.
func (c *Client) expect(ctx context.Context, code int16, h remoting.Header, body []byte, ok ...int16) (*remoting.Command, error) {
	resp, err := c.call(ctx, code, h, body)
	if err != nil {
		return nil, err
	}
	if resp.Code == remoting.Success {
		return resp, nil
	}
	for _, k := range ok {
		if resp.Code == k {
			return resp, nil
		}
	}
	return resp, &ResponseError{Code: resp.Code, Remark: resp.Remark, Addr: c.cachedLeader()}
}

// Config reads one node's configuration (GET_CONTROLLER_CONFIG) as
// properties text.
func (c *Client) Config(ctx context.Context, addr string) (string, error) {
	resp, err := c.rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.GetControllerConfig, nil, nil))
	if err != nil {
		return "", err
	}
	if resp.Code != remoting.Success {
		return "", &ResponseError{Code: resp.Code, Remark: resp.Remark, Addr: addr}
	}
	return string(resp.Body), nil
}

// UpdateConfig changes runtime keys of one node (UPDATE_CONTROLLER_CONFIG);
// properties is "key=value" lines. Each node keeps its own configuration,
// as upstream's, so tools send it to every node.
func (c *Client) UpdateConfig(ctx context.Context, addr, properties string) error {
	resp, err := c.rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.UpdateControllerConfig, nil, []byte(properties)))
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return &ResponseError{Code: resp.Code, Remark: resp.Remark, Addr: addr}
	}
	return nil
}

// Heartbeat sends BROKER_HEARTBEAT to one controller node.
func (c *Client) Heartbeat(ctx context.Context, addr string, h *BrokerHeartbeatHeader) error {
	resp, err := c.rpc.InvokeSync(ctx, addr, remoting.NewRequest(remoting.BrokerHeartbeat, h, nil))
	if err != nil {
		return err
	}
	if resp.Code != remoting.Success {
		return &ResponseError{Code: resp.Code, Remark: resp.Remark, Addr: addr}
	}
	return nil
}

// NextBrokerID asks which id the next new member of a set would get.
func (c *Client) NextBrokerID(ctx context.Context, cluster, broker string) (int64, error) {
	resp, err := c.expect(ctx, remoting.ControllerGetNextBrokerID, &GetNextBrokerIDHeader{ClusterName: cluster, BrokerName: broker}, nil)
	if err != nil {
		return 0, err
	}
	var h GetNextBrokerIDHeader
	if err := resp.DecodeHeader(&h); err != nil {
		return 0, err
	}
	if h.NextBrokerID < FirstBrokerID {
		return 0, fmt.Errorf("%w: next broker id %d", remoting.ErrInvalidField, h.NextBrokerID)
	}
	return h.NextBrokerID, nil
}

// ApplyBrokerID claims id with checkCode.
func (c *Client) ApplyBrokerID(ctx context.Context, cluster, broker string, id int64, checkCode string) error {
	_, err := c.expect(ctx, remoting.ControllerApplyBrokerID, &ApplyBrokerIDHeader{ClusterName: cluster, BrokerName: broker, AppliedBrokerID: id, RegisterCheckCode: checkCode}, nil)
	return err
}

// Replicas is what the controller says about a set's master.
type Replicas struct {
	MasterHeader
	SyncStateSet wire.SyncStateSet
}

func decodeReplicas(resp *remoting.Command) (Replicas, error) {
	var r Replicas
	if err := resp.DecodeHeader(&r.MasterHeader); err != nil {
		return r, err
	}
	if len(resp.Body) > 0 {
		sss, err := wire.DecodeSyncStateSet(resp.Body)
		if err != nil {
			return r, err
		}
		r.SyncStateSet = sss
	}
	return r, nil
}

// RegisterBroker reports a member's address and learns the master (absent
// when none is alive).
func (c *Client) RegisterBroker(ctx context.Context, cluster, broker string, id int64, addr string) (Replicas, error) {
	resp, err := c.expect(ctx, remoting.ControllerRegisterBroker, &RegisterBrokerHeader{ClusterName: cluster, BrokerName: broker, BrokerID: id, BrokerAddress: addr}, nil)
	if err != nil {
		return Replicas{}, err
	}
	return decodeReplicas(resp)
}

// ReplicaInfo reads a set's master and SyncStateSet.
func (c *Client) ReplicaInfo(ctx context.Context, broker string) (Replicas, error) {
	resp, err := c.expect(ctx, remoting.ControllerGetReplicaInfo, &BrokerNameHeader{BrokerName: broker}, nil)
	if err != nil {
		return Replicas{}, err
	}
	return decodeReplicas(resp)
}

// ElectMaster asks for an election. A MASTER_STILL_EXIST answer is
// returned with the current master and a nil error.
func (c *Client) ElectMaster(ctx context.Context, h ElectMasterHeader) (Replicas, error) {
	resp, err := c.expect(ctx, remoting.ControllerElectMaster, &h, nil, remoting.ControllerMasterStillExist)
	if err != nil {
		return Replicas{}, err
	}
	var r Replicas
	if err := resp.DecodeHeader(&r.MasterHeader); err != nil {
		return r, err
	}
	var body wire.ElectMasterBody
	if err := decodeBody(resp.Body, &body); err != nil {
		return r, err
	}
	r.SyncStateSet = wire.SyncStateSet{Members: wire.NormalizeIDs(body.SyncStateSet), Epoch: r.SyncStateSetEpoch}
	return r, nil
}

// AlterSyncStateSet proposes a new SyncStateSet; want.Epoch must be the
// epoch the master last saw. It returns the set as committed.
func (c *Client) AlterSyncStateSet(ctx context.Context, broker string, master int64, masterEpoch int32, want wire.SyncStateSet) (wire.SyncStateSet, error) {
	body := mustJSON(wire.SyncStateSet{Members: wire.NormalizeIDs(want.Members), Epoch: want.Epoch})
	resp, err := c.expect(ctx, remoting.ControllerAlterSyncStateSet, &AlterSyncStateSetHeader{BrokerName: broker, MasterBrokerID: master, MasterEpoch: masterEpoch}, body)
	if err != nil {
		return wire.SyncStateSet{}, err
	}
	return wire.DecodeSyncStateSet(resp.Body)
}

// SyncStateData reads the admin view of several sets.
func (c *Client) SyncStateData(ctx context.Context, brokers ...string) (wire.BrokerReplicasInfo, error) {
	var info wire.BrokerReplicasInfo
	resp, err := c.expect(ctx, remoting.ControllerGetSyncStateData, nil, mustJSON(brokers))
	if err != nil {
		return info, err
	}
	err = decodeBody(resp.Body, &info)
	return info, err
}
