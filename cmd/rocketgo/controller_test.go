package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestControllerRejectsABadPeerList(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"controller", "-set", "controllerDLegerPeers=n0-nohost", "-set", "controllerStorePath=" + t.TempDir()}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "controllerDLegerPeers") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestNamesrvConfigEnablesTheController(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "namesrv.conf")
	body := "listenPort=9876\nenableControllerInNamesrv=true\ncontrollerDLegerPeers=n0-127.0.0.1:9878\ncontrollerDLegerSelfId=n0\ncontrollerStorePath=" + dir + "\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := namesrvController(conf, nil, &bytes.Buffer{})
	if err != nil || cfg == nil || cfg.Peers != "n0-127.0.0.1:9878" || cfg.StorePath != dir {
		t.Fatalf("config %+v, %v", cfg, err)
	}
	if cfg, err := namesrvController(conf, settings{"enableControllerInNamesrv=false"}, &bytes.Buffer{}); err != nil || cfg != nil {
		t.Fatalf("disabled by -set: %+v, %v", cfg, err)
	}
	if cfg, err := namesrvController("", nil, &bytes.Buffer{}); err != nil || cfg != nil {
		t.Fatalf("no file: %+v, %v", cfg, err)
	}
}
