package metrics

import (
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rocketgo/rocketgo/internal/httpserve"
)

// Handler serves g in the Prometheus text format (or OpenMetrics when the
// scraper asks) on /metrics; other paths are not found.
func Handler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:          slogPrinter{log},
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	}))
	return mux
}

// Serve starts an endpoint on addr serving g on /metrics.
func Serve(addr string, g prometheus.Gatherer, log *slog.Logger) (*httpserve.Server, error) {
	return httpserve.Start(addr, Handler(g, log))
}

// slogPrinter adapts slog to promhttp's error log.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	if p.log != nil {
		p.log.Warn("metrics: gathering failed", "err", v)
	}
}
