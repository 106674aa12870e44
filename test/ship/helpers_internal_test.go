package ship

import (
	"slices"
	"testing"
)

func TestPromQLMetricNames(t *testing.T) {
	tests := map[string]struct {
		expr string
		want []string
	}{
		"a selector":        {`ocsha_server_up{namespace=~"$namespace"}`, []string{"ocsha_server_up"}},
		"functions, ranges": {`sum by (server, le) (rate(ocsha_x_bucket{a="b"}[$__rate_interval]))`, []string{"ocsha_x_bucket"}},
		"binary operators, grouping": {
			`max by (namespace) (a) == 0 unless on (namespace, pool) group_left (x) b > bool 2 * c offset 5m`,
			[]string{"a", "b", "c"},
		},
		"numbers and time()":          {`time() - ocsha_t > 1e3 and 0.95 < ocsha_u`, []string{"ocsha_t", "ocsha_u"}},
		"strings hold no metric":      {`label_replace(ocsha_v, "dst", "$1", "src", "(ocsha_w)")`, []string{"ocsha_v"}},
		"a multi-line expression":     {"max(\n  ocsha_a\n)\nor\nocsha_b", []string{"ocsha_a", "ocsha_b"}},
		"a function name is kept out": {`histogram_quantile(0.5, ocsha_h_bucket)`, []string{"ocsha_h_bucket"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := promqlMetricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("promqlMetricNames(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestSeriesName(t *testing.T) {
	families := map[string]metricFamily{"h": {typ: "histogram"}, "g": {typ: "gauge"}}
	for in, want := range map[string]string{"h_bucket": "h", "h_count": "h", "g": "g", "g_sum": "", "x": ""} {
		got, ok := seriesName(in, families)
		if got != want || ok != (want != "") {
			t.Errorf("seriesName(%q) = %q, %v", in, got, ok)
		}
	}
}
