package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/rocketgo/rocketgo/server/store"
)

// Exit codes of `rocketgo store check`.
const (
	checkOK      = 0 // consistent
	checkDamaged = 1 // inconsistencies found, or left after -repair
	checkUsage   = 2
	checkFailed  = 3 // the store could not be read or repaired
)

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("store check", flag.ContinueOnError)
	data := fs.String("data", defaultDataDir(), "storage root (storePathRootDir), which holds the store; an older broker's nested <root>/store is found too")
	repair := fs.Bool("repair", false, "cut the damaged end, quarantine damage inside the log and rebuild queues and index, as recovery would; the store must be stopped")
	var opts store.CheckOptions
	fs.Int64Var(&opts.CommitLogSegmentSize, "commitlog-size", 0, "commit-log file size in bytes (default: inferred from the files)")
	fs.IntVar(&opts.ConsumeQueueEntriesPerFile, "cq-entries", 0, "entries per consume-queue file (default: inferred)")
	fs.IntVar(&opts.IndexSlots, "index-slots", 0, "index hash slots per file (default: inferred)")
	fs.IntVar(&opts.IndexEntries, "index-entries", 0, "index entries per file (default: inferred)")
	level := fs.String("log-level", "warn", "log level of the repair: debug, info, warn or error")
	if len(args) > 0 && args[0] == "check" {
		args = args[1:]
	} else if len(args) == 0 || (args[0] != "-h" && args[0] != "-help" && args[0] != "--help") {
		fmt.Fprintln(stderr, "usage: rocketgo store check [-data DIR] [-repair]; run 'rocketgo help store' for more")
		return checkUsage
	}
	if code, ok := parseFlags(fs, "store", args, stdout, stderr); !ok {
		return code
	}
	rep, err := store.Check(ctx, *data, opts)
	if err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return checkFailed
	}
	printReport(stdout, rep)
	if !*repair {
		if rep.OK() {
			return checkOK
		}
		return checkDamaged
	}
	if !rep.CleanShutdown {
		fmt.Fprintln(stdout, "warning: the store was not shut down cleanly; make sure no broker is using it")
	}
	if opts.Logger, err = newLogger(stderr, *level); err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return checkUsage
	}
	fmt.Fprintln(stdout, "\nrepairing...")
	if rep, err = store.Repair(ctx, *data, opts); err != nil {
		fmt.Fprintln(stderr, "rocketgo:", err)
		return checkFailed
	}
	printReport(stdout, rep)
	if rep.OK() {
		return checkOK
	}
	return checkDamaged
}

func printReport(w io.Writer, rep *store.CheckReport) {
	stop := "clean shutdown"
	if !rep.CleanShutdown {
		stop = "NOT shut down cleanly"
	}
	fmt.Fprintf(w, "store %s (%s)\n", rep.Dir, stop)
	fmt.Fprintf(w, "  commit log [%d, %d): %d records", rep.LogStart, rep.LogEnd, rep.Records)
	if rep.Quarantined > 0 {
		fmt.Fprintf(w, ", %d quarantined runs", rep.Quarantined)
	}
	fmt.Fprintf(w, "\n  consume queues: %d queues, %d entries", rep.Queues, rep.QueueEntries)
	if rep.Holes > 0 {
		fmt.Fprintf(w, ", %d offsets lost to damage", rep.Holes)
	}
	fmt.Fprintf(w, "\n  index: %d entries\n", rep.IndexEntries)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if rep.OK() {
		fmt.Fprintln(w, "OK: no inconsistency found")
		return
	}
	kinds := make([]store.ProblemKind, 0, len(rep.Counts))
	total := int64(0)
	for k, n := range rep.Counts {
		kinds = append(kinds, k)
		total += n
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i] < kinds[j] })
	fmt.Fprintf(w, "DAMAGED: %d problems", total)
	for _, k := range kinds {
		fmt.Fprintf(w, ", %s %d", k, rep.Counts[k])
	}
	fmt.Fprintln(w)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
	if listed := int64(len(rep.Problems)); listed < total {
		fmt.Fprintf(w, "  (%d more not listed)\n", total-listed)
	}
}
