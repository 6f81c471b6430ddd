package nsclient

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"slices"
	"strconv"
)

// DataVersion is a broker's topic-configuration version stamp. Bump Counter
// (and Timestamp) whenever the topic set changes; name servers compare it
// for equality to decide whether a registration carries new queue data.
type DataVersion struct {
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
	StateVersion int64 `json:"stateVersion"`
}

// TopicConfig is one topic a broker registers.
type TopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int32             `json:"readQueueNums"`
	WriteQueueNums  int32             `json:"writeQueueNums"`
	Perm            int32             `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"` // "SINGLE_TAG" when empty
	TopicSysFlag    int32             `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes"`
}

// EncodeRegisterBody builds a REGISTER_BROKER body and its bodyCrc32 value.
// compressed selects the zlib form Apache brokers send when
// compressedRegister is on; the plain form is RegisterBrokerBody JSON. Both
// are accepted by Apache name servers and ours.
func EncodeRegisterBody(dv DataVersion, topics []TopicConfig, compressed bool) (body []byte, crc int32, err error) {
	sorted := slices.Clone(topics)
	slices.SortFunc(sorted, func(a, b TopicConfig) int {
		switch {
		case a.TopicName < b.TopicName:
			return -1
		case a.TopicName > b.TopicName:
			return 1
		}
		return 0
	})
	for i := range sorted {
		if sorted[i].TopicFilterType == "" {
			sorted[i].TopicFilterType = "SINGLE_TAG"
		}
		if sorted[i].Attributes == nil {
			sorted[i].Attributes = map[string]string{}
		}
	}
	if compressed {
		body, err = encodeCompressed(dv, sorted)
	} else {
		body, err = encodeJSON(dv, sorted)
	}
	if err != nil {
		return nil, 0, err
	}
	return body, int32(crc32.ChecksumIEEE(body) & 0x7FFFFFFF), nil
}

func encodeJSON(dv DataVersion, topics []TopicConfig) ([]byte, error) {
	table := make(map[string]TopicConfig, len(topics))
	for _, tc := range topics {
		table[tc.TopicName] = tc
	}
	type wrapper struct {
		DataVersion      DataVersion            `json:"dataVersion"`
		TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
	}
	return json.Marshal(struct {
		FilterServerList []string `json:"filterServerList"`
		Wrapper          wrapper  `json:"topicConfigSerializeWrapper"`
	}{FilterServerList: []string{}, Wrapper: wrapper{DataVersion: dv, TopicConfigTable: table}})
}

// encodeCompressed writes the zlib form (fact sheet §8.4) at the best
// compression level, as Java brokers do: registrations are small and rare,
// so size beats speed here.
func encodeCompressed(dv DataVersion, topics []TopicConfig) ([]byte, error) {
	var raw bytes.Buffer
	var lenBuf [4]byte
	putChunk := func(b []byte) {
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(b)))
		raw.Write(lenBuf[:])
		raw.Write(b)
	}
	dvJSON, err := json.Marshal(dv)
	if err != nil {
		return nil, err
	}
	putChunk(dvJSON)
	binary.BigEndian.PutUint32(lenBuf[:], uint32(len(topics)))
	raw.Write(lenBuf[:])
	for _, tc := range topics {
		line := tc.TopicName + " " + strconv.Itoa(int(tc.ReadQueueNums)) + " " +
			strconv.Itoa(int(tc.WriteQueueNums)) + " " + strconv.Itoa(int(tc.Perm)) + " " + tc.TopicFilterType
		if len(tc.Attributes) > 0 {
			attrs, err := json.Marshal(tc.Attributes)
			if err != nil {
				return nil, err
			}
			line += " " + string(attrs)
		}
		putChunk([]byte(line))
	}
	putChunk([]byte("[]"))                   // filter server list
	binary.BigEndian.PutUint32(lenBuf[:], 0) // no static-topic queue mappings
	raw.Write(lenBuf[:])

	var out bytes.Buffer
	zw, err := zlib.NewWriterLevel(&out, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
