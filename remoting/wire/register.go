package wire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"
)

// The REGISTER_BROKER body comes in two forms (upstream RegisterBrokerBody): plain
// RegisterBrokerBody JSON, and the zlib-compressed form Apache brokers send
// with compressedRegister on. Brokers encode it, name servers decode it.

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

// encodeCompressed writes the zlib form (RegisterBrokerBody.encode) at the best
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

// RegisterBody is a decoded REGISTER_BROKER body, whichever form it came in.
type RegisterBody struct {
	DataVersion DataVersion
	Topics      []TopicConfig
	// FilterServers is decoded for completeness only: filter servers are a
	// retired 4.x feature, and routes always carry an empty
	// filterServerTable.
	FilterServers []string
}

// maxInflatedBody caps what a compressed register body may expand to, so a
// hostile zlib stream cannot exhaust memory. 64 MiB holds several hundred
// thousand topic lines.
const maxInflatedBody = 64 << 20

// CheckBodyCRC verifies a register body against its bodyCrc32 header value.
// Zero means "not computed" (older brokers), as upstream treats it.
func CheckBodyCRC(body []byte, want int32) error {
	if want == 0 {
		return nil
	}
	got := int32(crc32.ChecksumIEEE(body) & 0x7FFFFFFF)
	if got != want {
		return fmt.Errorf("%w: header %d, body %d", ErrCRCMismatch, want, got)
	}
	return nil
}

// DecodeRegisterBody decodes a REGISTER_BROKER body. An empty body is valid
// and means "no topics" with a zero data version, as upstream treats it.
func DecodeRegisterBody(body []byte, compressed bool) (*RegisterBody, error) {
	if len(body) == 0 {
		return &RegisterBody{}, nil
	}
	if compressed {
		return decodeCompressedRegisterBody(body)
	}
	return decodeJSONRegisterBody(body)
}

type wireTopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int32             `json:"readQueueNums"`
	WriteQueueNums  int32             `json:"writeQueueNums"`
	Perm            int32             `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"`
	TopicSysFlag    int32             `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes"`
}

type wireRegisterBody struct {
	TopicConfigSerializeWrapper *struct {
		DataVersion      *DataVersion               `json:"dataVersion"`
		TopicConfigTable map[string]wireTopicConfig `json:"topicConfigTable"`
	} `json:"topicConfigSerializeWrapper"`
	FilterServerList []string `json:"filterServerList"`
}

// decodeJSONRegisterBody uses encoding/json: registrations arrive every 30 s
// per broker, far from a hot path, and the body is standard JSON.
func decodeJSONRegisterBody(body []byte) (*RegisterBody, error) {
	var w wireRegisterBody
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	rb := &RegisterBody{FilterServers: w.FilterServerList}
	if wr := w.TopicConfigSerializeWrapper; wr != nil {
		if wr.DataVersion != nil {
			rb.DataVersion = *wr.DataVersion
		}
		rb.Topics = make([]TopicConfig, 0, len(wr.TopicConfigTable))
		for name, tc := range wr.TopicConfigTable {
			if tc.TopicName == "" {
				tc.TopicName = name
			}
			t := TopicConfig(tc)
			if err := validateTopicConfig(&t); err != nil {
				return nil, err
			}
			rb.Topics = append(rb.Topics, t)
		}
	}
	return rb, nil
}

func validateTopicConfig(tc *TopicConfig) error {
	if tc.TopicName == "" {
		return fmt.Errorf("%w: topic config without a name", ErrMalformedBody)
	}
	if tc.ReadQueueNums < 0 || tc.WriteQueueNums < 0 {
		return fmt.Errorf("%w: topic %q has negative queue numbers", ErrMalformedBody, tc.TopicName)
	}
	return nil
}

// bodyReader walks the inflated compressed form; every read is bounds
// checked so a truncated stream is an error, never a panic.
type bodyReader struct {
	b   []byte
	err error
}

func (r *bodyReader) int32() int32 {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 4 {
		r.err = fmt.Errorf("%w: truncated compressed body", ErrMalformedBody)
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

func (r *bodyReader) chunk() []byte {
	n := r.int32()
	if r.err != nil {
		return nil
	}
	if n < 0 || int(n) > len(r.b) {
		r.err = fmt.Errorf("%w: bad length %d in compressed body", ErrMalformedBody, n)
		return nil
	}
	c := r.b[:n]
	r.b = r.b[n:]
	return c
}

// decodeCompressedRegisterBody reads the zlib form (RegisterBrokerBody.decode): data
// version JSON, the topic count, one text line per topic, the filter server
// list and, from 5.0 brokers, queue mappings (which we do not serve and skip).
func decodeCompressedRegisterBody(body []byte) (*RegisterBody, error) {
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	defer zr.Close()
	raw, err := io.ReadAll(io.LimitReader(zr, maxInflatedBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedBody, err)
	}
	if len(raw) > maxInflatedBody {
		return nil, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrMalformedBody, maxInflatedBody)
	}
	r := &bodyReader{b: raw}
	rb := &RegisterBody{}
	if dv := r.chunk(); r.err == nil && len(dv) > 0 {
		if err := json.Unmarshal(dv, &rb.DataVersion); err != nil {
			return nil, fmt.Errorf("%w: data version: %v", ErrMalformedBody, err)
		}
	}
	count := r.int32()
	if r.err == nil && (count < 0 || int(count) > len(r.b)/4) {
		return nil, fmt.Errorf("%w: bad topic count %d", ErrMalformedBody, count)
	}
	if r.err == nil {
		rb.Topics = make([]TopicConfig, 0, count)
	}
	for i := int32(0); i < count && r.err == nil; i++ {
		line := r.chunk()
		if r.err != nil {
			break
		}
		tc, err := parseTopicConfigLine(string(line))
		if err != nil {
			return nil, err
		}
		rb.Topics = append(rb.Topics, tc)
	}
	if fs := r.chunk(); r.err == nil && len(fs) > 0 {
		if err := json.Unmarshal(fs, &rb.FilterServers); err != nil {
			return nil, fmt.Errorf("%w: filter server list: %v", ErrMalformedBody, err)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	// Whatever follows (5.x queue mappings) concerns static topics only.
	return rb, nil
}

// parseTopicConfigLine decodes "name readQ writeQ perm filterType [attrs]".
// At most six fields are split off so attribute JSON may contain spaces.
func parseTopicConfigLine(line string) (TopicConfig, error) {
	parts := strings.SplitN(line, " ", 6)
	if len(parts) < 5 {
		return TopicConfig{}, fmt.Errorf("%w: topic line %q has %d fields, want at least 5", ErrMalformedBody, line, len(parts))
	}
	tc := TopicConfig{TopicName: parts[0], TopicFilterType: parts[4]}
	for i, dst := range []*int32{&tc.ReadQueueNums, &tc.WriteQueueNums, &tc.Perm} {
		v, err := strconv.ParseInt(parts[i+1], 10, 32)
		if err != nil {
			return TopicConfig{}, fmt.Errorf("%w: topic line %q: %v", ErrMalformedBody, line, err)
		}
		*dst = int32(v)
	}
	if len(parts) == 6 && parts[5] != "" {
		if err := json.Unmarshal([]byte(parts[5]), &tc.Attributes); err != nil {
			return TopicConfig{}, fmt.Errorf("%w: topic line %q attributes: %v", ErrMalformedBody, line, err)
		}
	}
	if err := validateTopicConfig(&tc); err != nil {
		return TopicConfig{}, err
	}
	return tc, nil
}
