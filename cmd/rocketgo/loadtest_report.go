package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rocketgo/rocketgo/loadtest"
	"github.com/rocketgo/rocketgo/loadtest/htmlreport"
)

// runLoadtestReport is `rocketgo loadtest report a.json b.json [-html
// cmp.html]`: it reads JSON results (rocketgo's or the OpenMessaging
// Benchmark's), prints them side by side against the first, and with
// -html overlays them in one HTML page. Flags may come before, between or
// after the files.
func runLoadtestReport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadtest report", flag.ContinueOnError)
	htmlPath := fs.String("html", "", "write an HTML page overlaying the runs' charts to `file`")
	title := fs.String("title", "", "the page's title (default: the file names)")
	fs.SetOutput(stderr)
	fs.Usage = func() {} // -h prints the help to stdout below
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				fmt.Fprintln(stdout, "usage: rocketgo loadtest report RESULT.json... [-html FILE] [-title TEXT]")
				fmt.Fprintln(stdout, "\nCompares JSON results of rocketgo loadtest -json (or OpenMessaging Benchmark result files):")
				fmt.Fprintln(stdout, "a table against the first one on stdout, and with -html one page overlaying their charts.")
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return 0
			}
			fmt.Fprintln(stderr, "run 'rocketgo loadtest report -h' for its flags")
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "rocketgo loadtest report: name at least one JSON result file")
		return 2
	}
	runs := make([]*htmlreport.Run, 0, len(files))
	for _, f := range files {
		run, err := readRun(f)
		if err != nil {
			fmt.Fprintln(stderr, "rocketgo loadtest report:", err)
			return 1
		}
		runs = append(runs, run)
	}
	if err := htmlreport.Compare(stdout, runs); err != nil {
		fmt.Fprintln(stderr, "rocketgo loadtest report:", err)
		return 1
	}
	if *htmlPath == "" {
		return 0
	}
	t := *title
	if t == "" {
		t = "rocketgo loadtest:"
		for _, r := range runs {
			t += " " + r.Label
		}
	}
	if err := writePage(*htmlPath, t, runs); err != nil {
		fmt.Fprintln(stderr, "rocketgo loadtest report:", err)
		return 1
	}
	fmt.Fprintf(stdout, "HTML report written to %s\n", *htmlPath)
	return 0
}

// readRun reads one JSON result, labelled with its file name.
func readRun(path string) (*htmlreport.Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return htmlreport.Decode(f, filepath.Base(path))
}

// writeHTML writes the report of the run just done.
func writeHTML(path string, res *loadtest.Result) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	run, err := htmlreport.Decode(bytes.NewReader(b), "this run")
	if err != nil {
		return err
	}
	title := fmt.Sprintf("rocketgo loadtest: %s %s, %d-byte messages", res.Mode, res.SendMode, res.MessageSize)
	return writePage(path, title, []*htmlreport.Run{run})
}

func writePage(path, title string, runs []*htmlreport.Run) error {
	var b bytes.Buffer
	if err := htmlreport.Write(&b, title, runs); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}
