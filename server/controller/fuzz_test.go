package controller

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/rocketgo/rocketgo/remoting"
	"github.com/rocketgo/rocketgo/remoting/wire"
)

// FuzzDecodeRequest feeds arbitrary ext fields and bodies to every
// controller header and body decoder, as a hostile peer could: each must
// return a value or an error, never panic, and a decoded header must
// survive re-encoding.
func FuzzDecodeRequest(f *testing.F) {
	f.Add("brokerName\x00b\x00masterBrokerId\x001\x00masterEpoch\x002", []byte(`{"syncStateSet":[1,2],"syncStateSetEpoch":3}`))
	f.Add("clusterName\x00c\x00brokerAddr\x00a:1\x00brokerName\x00b\x00brokerId\x001\x00epoch\x00x", []byte(`["b"]`))
	f.Add("brokerId\x00-1\x00designateElect\x00TRUE", []byte(`{"brokerMemberGroup":{"brokerAddrs":{1:"a"}},"syncStateSet":[1]}`))
	f.Add("appliedBrokerId\x009223372036854775808\x00registerCheckCode\x00;", []byte(`{"replicasInfoTable":{"b":{"inSyncReplicas":[{}]}}}`))
	f.Add("masterEpoch\x00-2147483649", []byte(`{"sets":{"b":null}}`))
	f.Fuzz(func(t *testing.T, ext string, body []byte) {
		var e remoting.ExtFields
		parts := strings.Split(ext, "\x00")
		for i := 0; i+1 < len(parts); i += 2 {
			e.Set(parts[i], parts[i+1])
		}
		decoders := []interface {
			remoting.Header
			remoting.HeaderDecoder
		}{
			&BrokerHeartbeatHeader{}, &GetNextBrokerIDHeader{}, &ApplyBrokerIDHeader{}, &RegisterBrokerHeader{},
			&MasterHeader{}, &BrokerNameHeader{}, &ElectMasterHeader{}, &AlterSyncStateSetHeader{},
			&CleanBrokerDataHeader{}, &MetadataHeader{},
		}
		for _, h := range decoders {
			if err := h.DecodeExt(&e); err != nil {
				continue
			}
			var again remoting.ExtFields
			h.EncodeExt(&again)
			if err := h.DecodeExt(&again); err != nil {
				t.Fatalf("%T re-encoded into something it cannot decode: %v (%s)", h, err, again.String())
			}
		}
		if s, err := wire.DecodeSyncStateSet(body); err == nil {
			for i := 1; i < len(s.Members); i++ {
				if s.Members[i] <= s.Members[i-1] {
					t.Fatalf("members not normalised: %v", s.Members)
				}
			}
		}
		var eb wire.ElectMasterBody
		_ = decodeBody(body, &eb)
		var ri wire.BrokerReplicasInfo
		_ = decodeBody(body, &ri)
		var names []string
		_ = decodeBody(body, &names)
		// UPDATE_CONTROLLER_CONFIG: an accepted update keeps a valid
		// configuration whose fixed keys are untouched.
		base := DefaultConfig()
		if next, _, err := base.applyUpdate(body); err == nil {
			if next.Validate() != nil || next.Peers != base.Peers || next.StorePath != base.StorePath {
				t.Fatalf("update %q produced %+v", body, next)
			}
		}

		// A log entry or a snapshot that is not ours must be refused
		// cleanly by every node alike.
		fs := &fsm{st: newState()}
		fs.Apply(&raft.Log{Type: raft.LogCommand, Data: body})
		_ = fs.Restore(io.NopCloser(bytes.NewReader(body)))
		if snap, err := fs.Snapshot(); err == nil {
			snap.Release()
		}
	})
}
