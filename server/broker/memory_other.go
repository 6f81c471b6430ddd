//go:build !linux

package broker

// physicalMemory is unknown off Linux: set physicalMemorySize to enable
// slave-read suggestions there.
func physicalMemory() int64 { return 0 }
