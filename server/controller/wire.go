package controller

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// The controller speaks RocketMQ 5.x's controller requests: the codes of
// RequestCode (1001–1013 and BROKER_HEARTBEAT 904), the ext-field names of
// the Java header classes (package ...protocol.header.controller) and the
// JSON bodies of SyncStateSet, ElectMasterResponseBody and
// BrokerReplicasInfo. Java leaves a Long header field out when it is null;
// so do we (a zero broker id means "no master": ids start at 1).

// NoMaster is the master id of a broker set without a master. Controller
// broker ids start at 1 (upstream's FIRST_BROKER_CONTROLLER_ID).
const NoMaster int64 = 0

// FirstBrokerID is the first id the controller hands out in a broker set.
const FirstBrokerID int64 = 1

// setOptID writes a broker id unless it is NoMaster (Java's null).
func setOptID(e *remoting.ExtFields, key string, id int64) {
	if id != NoMaster {
		e.SetInt(key, id)
	}
}

// header reads ext fields, remembering the first error.
type header struct {
	e   *remoting.ExtFields
	err error
}

func (r *header) fail(key, val string, sentinel error) {
	if r.err == nil {
		r.err = &remoting.FieldError{Key: key, Value: val, Err: sentinel}
	}
}

func (r *header) str(key string) string {
	v, ok := r.e.Get(key)
	if !ok {
		r.fail(key, "", remoting.ErrMissingField)
	}
	return v
}

func (r *header) optStr(key string) string {
	v, _ := r.e.Get(key)
	return v
}

func (r *header) num(key string, bits int, def int64, required bool) int64 {
	v, ok := r.e.Get(key)
	if !ok || v == "" || v == "null" {
		if required {
			r.fail(key, "", remoting.ErrMissingField)
		}
		return def
	}
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		r.fail(key, v, remoting.ErrInvalidField)
		return def
	}
	return n
}

func (r *header) i64(key string) int64             { return r.num(key, 64, 0, true) }
func (r *header) optI64(key string, d int64) int64 { return r.num(key, 64, d, false) }
func (r *header) optI32(key string, d int32) int32 {
	return int32(r.num(key, 32, int64(d), false))
}

// BrokerHeartbeatHeader is BROKER_HEARTBEAT (904), broker to controller.
type BrokerHeartbeatHeader struct {
	ClusterName      string
	BrokerAddr       string
	BrokerName       string
	BrokerID         int64 // controller-assigned id; required by the controller
	Epoch            int32 // the broker's last master epoch; -1 = unknown
	MaxOffset        int64 // end of its commit log; -1 = unknown
	ConfirmOffset    int64
	HeartbeatTimeout int64 // heartbeatTimeoutMills; 0 = the controller's default
	ElectionPriority int32 // lower wins ties; MaxInt32 when absent
}

func (h *BrokerHeartbeatHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("clusterName", h.ClusterName)
	e.Set("brokerAddr", h.BrokerAddr)
	e.Set("brokerName", h.BrokerName)
	e.SetInt("brokerId", h.BrokerID)
	e.SetInt("epoch", int64(h.Epoch))
	e.SetInt("maxOffset", h.MaxOffset)
	e.SetInt("confirmOffset", h.ConfirmOffset)
	if h.HeartbeatTimeout > 0 {
		e.SetInt("heartbeatTimeoutMills", h.HeartbeatTimeout)
	}
	e.SetInt("electionPriority", int64(h.ElectionPriority))
}

func (h *BrokerHeartbeatHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.str("clusterName")
	h.BrokerAddr = r.str("brokerAddr")
	h.BrokerName = r.str("brokerName")
	h.BrokerID = r.i64("brokerId")
	h.Epoch = r.optI32("epoch", -1)
	h.MaxOffset = r.optI64("maxOffset", -1)
	h.ConfirmOffset = r.optI64("confirmOffset", -1)
	h.HeartbeatTimeout = r.optI64("heartbeatTimeoutMills", 0)
	h.ElectionPriority = r.optI32("electionPriority", 1<<31-1)
	return r.err
}

// GetNextBrokerIDHeader is CONTROLLER_GET_NEXT_BROKER_ID (1012); the
// response header adds NextBrokerID.
type GetNextBrokerIDHeader struct {
	ClusterName  string
	BrokerName   string
	NextBrokerID int64 // response only
}

func (h *GetNextBrokerIDHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("clusterName", h.ClusterName)
	e.Set("brokerName", h.BrokerName)
	if h.NextBrokerID != 0 {
		e.SetInt("nextBrokerId", h.NextBrokerID)
	}
}

func (h *GetNextBrokerIDHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.optStr("clusterName")
	h.BrokerName = r.str("brokerName")
	h.NextBrokerID = r.optI64("nextBrokerId", 0)
	return r.err
}

// ApplyBrokerIDHeader is CONTROLLER_APPLY_BROKER_ID (1013). The check code
// is "<brokerAddress>;<millis>", as upstream's ReplicasManager makes it; it
// lets the broker re-apply the same id after a crash.
type ApplyBrokerIDHeader struct {
	ClusterName       string
	BrokerName        string
	AppliedBrokerID   int64
	RegisterCheckCode string
}

func (h *ApplyBrokerIDHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("clusterName", h.ClusterName)
	e.Set("brokerName", h.BrokerName)
	e.SetInt("appliedBrokerId", h.AppliedBrokerID)
	e.Set("registerCheckCode", h.RegisterCheckCode)
}

func (h *ApplyBrokerIDHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.optStr("clusterName")
	h.BrokerName = r.str("brokerName")
	h.AppliedBrokerID = r.i64("appliedBrokerId")
	h.RegisterCheckCode = r.str("registerCheckCode")
	return r.err
}

// RegisterBrokerHeader is CONTROLLER_REGISTER_BROKER (1003).
type RegisterBrokerHeader struct {
	ClusterName   string
	BrokerName    string
	BrokerID      int64
	BrokerAddress string
}

func (h *RegisterBrokerHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("clusterName", h.ClusterName)
	e.Set("brokerName", h.BrokerName)
	e.SetInt("brokerId", h.BrokerID)
	e.Set("brokerAddress", h.BrokerAddress)
}

func (h *RegisterBrokerHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.optStr("clusterName")
	h.BrokerName = r.str("brokerName")
	h.BrokerID = r.i64("brokerId")
	h.BrokerAddress = r.str("brokerAddress")
	return r.err
}

// MasterHeader is the master description that several answers share:
// RegisterBrokerToControllerResponseHeader, ElectMasterResponseHeader,
// GetReplicaInfoResponseHeader and NotifyBrokerRoleChangedRequestHeader
// (each carries the subset upstream defines; absent fields decode as
// zero).
type MasterHeader struct {
	ClusterName       string
	BrokerName        string
	MasterBrokerID    int64 // NoMaster = none
	MasterAddress     string
	MasterEpoch       int32
	SyncStateSetEpoch int32
}

func (h *MasterHeader) EncodeExt(e *remoting.ExtFields) {
	if h.ClusterName != "" {
		e.Set("clusterName", h.ClusterName)
	}
	if h.BrokerName != "" {
		e.Set("brokerName", h.BrokerName)
	}
	setOptID(e, "masterBrokerId", h.MasterBrokerID)
	if h.MasterAddress != "" {
		e.Set("masterAddress", h.MasterAddress)
	}
	e.SetInt("masterEpoch", int64(h.MasterEpoch))
	e.SetInt("syncStateSetEpoch", int64(h.SyncStateSetEpoch))
}

func (h *MasterHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.optStr("clusterName")
	h.BrokerName = r.optStr("brokerName")
	h.MasterBrokerID = r.optI64("masterBrokerId", NoMaster)
	h.MasterAddress = r.optStr("masterAddress")
	h.MasterEpoch = r.optI32("masterEpoch", 0)
	h.SyncStateSetEpoch = r.optI32("syncStateSetEpoch", 0)
	return r.err
}

// BrokerNameHeader is GET_REPLICA_INFO's request (1004).
type BrokerNameHeader struct{ BrokerName string }

func (h *BrokerNameHeader) EncodeExt(e *remoting.ExtFields) { e.Set("brokerName", h.BrokerName) }
func (h *BrokerNameHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.BrokerName = r.str("brokerName")
	return r.err
}

// ElectMasterHeader is CONTROLLER_ELECT_MASTER (1002). A broker asks with
// its own id (it becomes master when the set never had one); an admin
// tool sets DesignateElect to prefer BrokerID; the controller itself
// elects with BrokerID -1.
type ElectMasterHeader struct {
	ClusterName    string
	BrokerName     string
	BrokerID       int64
	DesignateElect bool
}

func (h *ElectMasterHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("clusterName", h.ClusterName)
	e.Set("brokerName", h.BrokerName)
	e.SetInt("brokerId", h.BrokerID)
	e.SetBool("designateElect", h.DesignateElect)
}

func (h *ElectMasterHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.optStr("clusterName")
	h.BrokerName = r.str("brokerName")
	h.BrokerID = r.optI64("brokerId", -1)
	h.DesignateElect = e.Bool("designateElect")
	return r.err
}

// AlterSyncStateSetHeader is CONTROLLER_ALTER_SYNC_STATE_SET (1001); the
// proposed set travels in the body as a SyncStateSet whose epoch is the one
// the master last saw.
type AlterSyncStateSetHeader struct {
	BrokerName     string
	MasterBrokerID int64
	MasterEpoch    int32
}

func (h *AlterSyncStateSetHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("brokerName", h.BrokerName)
	e.SetInt("masterBrokerId", h.MasterBrokerID)
	e.SetInt("masterEpoch", int64(h.MasterEpoch))
}

func (h *AlterSyncStateSetHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.BrokerName = r.str("brokerName")
	h.MasterBrokerID = r.i64("masterBrokerId")
	h.MasterEpoch = int32(r.num("masterEpoch", 32, 0, true))
	return r.err
}

// CleanBrokerDataHeader is CLEAN_BROKER_DATA (1011).
type CleanBrokerDataHeader struct {
	ClusterName       string
	BrokerName        string
	BrokerIDsToClean  string // "1;2"; "" = the whole set
	CleanLivingBroker bool
}

func (h *CleanBrokerDataHeader) EncodeExt(e *remoting.ExtFields) {
	if h.ClusterName != "" {
		e.Set("clusterName", h.ClusterName)
	}
	e.Set("brokerName", h.BrokerName)
	if h.BrokerIDsToClean != "" {
		e.Set("brokerControllerIdsToClean", h.BrokerIDsToClean)
	}
	e.SetBool("isCleanLivingBroker", h.CleanLivingBroker)
}

func (h *CleanBrokerDataHeader) DecodeExt(e *remoting.ExtFields) error {
	r := header{e: e}
	h.ClusterName = r.optStr("clusterName")
	h.BrokerName = r.str("brokerName")
	h.BrokerIDsToClean = r.optStr("brokerControllerIdsToClean")
	h.CleanLivingBroker = e.Bool("isCleanLivingBroker")
	return r.err
}

// MetadataHeader answers CONTROLLER_GET_METADATA_INFO (1005). The leader
// address is the leader's remoting address, where brokers send requests.
type MetadataHeader struct {
	Group         string
	LeaderID      string
	LeaderAddress string
	IsLeader      bool
	Peers         string // "n0:addr;n1:addr"
}

func (h *MetadataHeader) EncodeExt(e *remoting.ExtFields) {
	e.Set("group", h.Group)
	if h.LeaderID != "" {
		e.Set("controllerLeaderId", h.LeaderID)
		e.Set("controllerLeaderAddress", h.LeaderAddress)
	}
	e.SetBool("isLeader", h.IsLeader)
	e.Set("peers", h.Peers)
}

func (h *MetadataHeader) DecodeExt(e *remoting.ExtFields) error {
	h.Group, _ = e.Get("group")
	h.LeaderID, _ = e.Get("controllerLeaderId")
	h.LeaderAddress, _ = e.Get("controllerLeaderAddress")
	h.IsLeader = e.Bool("isLeader")
	h.Peers, _ = e.Get("peers")
	return nil
}

// decodeBody decodes a JSON body, accepting fastjson's bare integer map
// keys ({1:"addr"}) that Java peers write.
func decodeBody(body []byte, v any) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: empty body", remoting.ErrInvalidField)
	}
	if err := json.Unmarshal(wire.QuoteBareKeys(body), v); err != nil {
		return fmt.Errorf("%w: body: %v", remoting.ErrInvalidField, err)
	}
	return nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only plain structs of numbers and strings are marshalled
	}
	return b
}
