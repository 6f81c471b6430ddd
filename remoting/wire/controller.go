package wire

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Bodies of RocketMQ 5.x controller mode (automatic failover): what the
// controller and the brokers of a set exchange. Field names follow
// upstream's JSON so Java tools read them.

// SyncStateSet is the body of the same name: the in-sync replicas (the
// master included) and the epoch of that membership.
type SyncStateSet struct {
	Members []int64 `json:"syncStateSet"`
	Epoch   int32   `json:"syncStateSetEpoch"`
}

// Contains reports whether id is in the set.
func (s SyncStateSet) Contains(id int64) bool { return slices.Contains(s.Members, id) }

// BrokerMemberGroup is the body part that lists a broker set's members.
type BrokerMemberGroup struct {
	Cluster     string           `json:"cluster"`
	BrokerName  string           `json:"brokerName"`
	BrokerAddrs map[int64]string `json:"brokerAddrs"`
}

// ElectMasterBody is ElectMasterResponseBody.
type ElectMasterBody struct {
	BrokerMemberGroup *BrokerMemberGroup `json:"brokerMemberGroup,omitempty"`
	SyncStateSet      []int64            `json:"syncStateSet"`
}

// ReplicaIdentity is one broker of BrokerReplicasInfo.
type ReplicaIdentity struct {
	BrokerName    string `json:"brokerName"`
	BrokerID      int64  `json:"brokerId"`
	BrokerAddress string `json:"brokerAddress"`
	Alive         bool   `json:"alive"`
}

// ReplicasInfo is one broker set of BrokerReplicasInfo.
type ReplicasInfo struct {
	MasterBrokerID    int64             `json:"masterBrokerId,omitempty"`
	MasterAddress     string            `json:"masterAddress,omitempty"`
	MasterEpoch       int32             `json:"masterEpoch"`
	SyncStateSetEpoch int32             `json:"syncStateSetEpoch"`
	InSyncReplicas    []ReplicaIdentity `json:"inSyncReplicas"`
	NotInSyncReplicas []ReplicaIdentity `json:"notInSyncReplicas"`
}

// BrokerReplicasInfo answers CONTROLLER_GET_SYNC_STATE_DATA (1006), whose
// request body is a JSON list of broker names.
type BrokerReplicasInfo struct {
	ReplicasInfoTable map[string]ReplicasInfo `json:"replicasInfoTable"`
}

// EpochEntry is one <epoch, start offset> pair of a broker's epoch file.
type EpochEntry struct {
	Epoch       int32 `json:"epoch"`
	StartOffset int64 `json:"startOffset"`
	EndOffset   int64 `json:"endOffset"`
}

// EpochEntryCache answers GET_BROKER_EPOCH_CACHE (1007), sent to a broker.
type EpochEntryCache struct {
	ClusterName string       `json:"clusterName"`
	BrokerName  string       `json:"brokerName"`
	BrokerID    int64        `json:"brokerId"`
	EpochList   []EpochEntry `json:"epochList"`
	MaxOffset   int64        `json:"maxOffset"`
}

// DecodeSyncStateSet decodes a SyncStateSet body, accepting fastjson's
// bare integer keys. Members are returned sorted and without duplicates.
func DecodeSyncStateSet(body []byte) (SyncStateSet, error) {
	var s SyncStateSet
	if len(body) == 0 {
		return s, fmt.Errorf("%w: empty SyncStateSet", ErrMalformedBody)
	}
	if err := json.Unmarshal(QuoteBareKeys(body), &s); err != nil {
		return s, fmt.Errorf("%w: SyncStateSet: %v", ErrMalformedBody, err)
	}
	s.Members = NormalizeIDs(s.Members)
	return s, nil
}

// NormalizeIDs sorts broker ids and drops duplicates, so sets compare
// with slices.Equal.
func NormalizeIDs(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
