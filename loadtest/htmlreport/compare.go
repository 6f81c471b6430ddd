package htmlreport

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Compare prints the runs side by side as text: rates, send and end-to-end
// latency percentiles, and each run's ratio to the first one (the
// baseline) for the publish rate and the send p99.
func Compare(w io.Writer, runs []*Run) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"run", "workload", "publish msg/s", "consume msg/s",
		"send p50", "send p99", "send p99.9", "send max", "e2e p50", "e2e p99", "e2e p99.9", "e2e max",
		"msg/s vs " + runs[0].Label, "send p99 vs " + runs[0].Label}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	base := runs[0]
	for _, r := range runs {
		row := []string{r.Label, r.Workload,
			fmt.Sprintf("%.0f", r.PublishRateAvg), fmt.Sprintf("%.0f", r.ConsumeRateAvg),
			ms(r.Publish.P50), ms(r.Publish.P99), ms(r.Publish.P999), ms(r.Publish.Max),
			ms(r.EndToEnd.P50), ms(r.EndToEnd.P99), ms(r.EndToEnd.P999), ms(r.EndToEnd.Max),
			ratio(r.PublishRateAvg, base.PublishRateAvg), ratio(r.Publish.P99, base.Publish.P99)}
		if r.Failed {
			row[0] += " (failed)"
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "latencies in ms; ratios are this run's figure over the first run's")
	return err
}

func ms(v float64) string { return fmt.Sprintf("%.3f", v) }

func ratio(v, base float64) string {
	if base == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v/base)
}
