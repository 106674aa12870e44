package controllers

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func TestOCSPoolDrainEndedSinceProbe(t *testing.T) {
	probe := time.Date(2026, 3, 1, 12, 0, 5, 300_000_000, time.UTC) // remembered to the nanosecond
	at := func(d time.Duration) *metav1.Time { t := metav1.NewTime(probe.Truncate(time.Second).Add(d)); return &t }
	spec := func(maintenance bool) []ocsv1.ServerSpec {
		return []ocsv1.ServerSpec{{Name: "ocs1", Maintenance: maintenance}, {Name: "ocs2"}}
	}
	status := func(state ocsv1.ServerState) []ocsv1.ServerStatus {
		p := metav1.NewTime(probe)
		return []ocsv1.ServerStatus{
			{Name: "ocs1", State: state, HomedUsers: 2, LastProbeTime: &p},
			{Name: "ocs2", State: ocsv1.ServerHealthy, HomedUsers: 4, LastProbeTime: &p},
		}
	}
	op := func(t ocsv1.OperationType, completed *metav1.Time) *ocsv1.Operation {
		return &ocsv1.Operation{Type: t, ID: "op", From: []string{"ocs1"}, CompletionTime: completed}
	}
	tests := map[string]struct {
		spec    []ocsv1.ServerSpec
		servers []ocsv1.ServerStatus
		ops     []*ocsv1.Operation
		want    bool
	}{
		"a drain that ended after the probe of a Draining server": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationDrain, at(2*time.Second))}, true},
		"a drain that ended in the second of the probe may have ended after it": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationDrain, at(0))}, true},
		"a drain that ended before the probe: the probe saw its outcome": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationDrain, at(-time.Second))}, false},
		"a drain still running": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationDrain, nil)}, false},
		"a completed failover is not a drain": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationFailover, at(2*time.Second))}, false},
		"a completed rebalance is not a drain": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationRebalance, at(2*time.Second))}, false},
		"the server is already Drained": {
			spec(true), status(ocsv1.ServerDrained), []*ocsv1.Operation{op(ocsv1.OperationDrain, at(2*time.Second))}, false},
		"the server left maintenance (the spec change probes anyway)": {
			spec(false), status(ocsv1.ServerDraining), []*ocsv1.Operation{op(ocsv1.OperationDrain, at(2*time.Second))}, false},
		"a Draining server that went down is no longer Draining": {
			spec(true), status(ocsv1.ServerUnreachable), []*ocsv1.Operation{op(ocsv1.OperationDrain, at(2*time.Second))}, false},
		"no UserHoming": {
			spec(true), status(ocsv1.ServerDraining), nil, false},
		"a UserHoming without operation beside one whose drain ended": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{nil, op(ocsv1.OperationDrain, at(time.Second))}, true},
		"a drain started for another server may have emptied this one too": {
			spec(true), status(ocsv1.ServerDraining), []*ocsv1.Operation{{Type: ocsv1.OperationDrain, From: []string{"ocs3"}, CompletionTime: at(time.Second)}}, true},
		"a server never probed (the first round probes it anyway)": {
			spec(true), []ocsv1.ServerStatus{{Name: "ocs1", State: ocsv1.ServerDraining}}, []*ocsv1.Operation{op(ocsv1.OperationDrain, at(time.Second))}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := drainEndedSinceProbe(tt.spec, tt.servers, tt.ops); got != tt.want {
				t.Errorf("drainEndedSinceProbe = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOCSPoolDrainCompletedPredicate(t *testing.T) {
	done := metav1.NewTime(time.Date(2026, 3, 1, 12, 0, 5, 0, time.UTC))
	later := metav1.NewTime(done.Add(time.Minute))
	homing := func(op *ocsv1.Operation) *ocsv1.UserHoming {
		return &ocsv1.UserHoming{Status: ocsv1.UserHomingStatus{LastOperation: op}}
	}
	drain := func(id string, completed *metav1.Time, moved int32) *ocsv1.Operation {
		return &ocsv1.Operation{Type: ocsv1.OperationDrain, ID: id, Moved: moved, CompletionTime: completed}
	}
	tests := map[string]struct {
		old, new *ocsv1.UserHoming
		want     bool
	}{
		"a drain completes":                      {homing(drain("d1", nil, 90)), homing(drain("d1", &done, 100)), true},
		"a drain's checkpoint":                   {homing(drain("d1", nil, 10)), homing(drain("d1", nil, 20)), false},
		"a drain starts":                         {homing(nil), homing(drain("d1", nil, 0)), false},
		"a completed drain written again":        {homing(drain("d1", &done, 100)), homing(drain("d1", &done, 100)), false},
		"a completed drain's time changed":       {homing(drain("d1", &done, 100)), homing(drain("d1", &later, 100)), true},
		"a new drain completed in one write":     {homing(drain("d1", &done, 100)), homing(drain("d2", &later, 5)), true},
		"a first operation that is a done drain": {homing(nil), homing(drain("d1", &done, 100)), true},
		"a failover completes": {homing(&ocsv1.Operation{Type: ocsv1.OperationFailover, ID: "f1"}),
			homing(&ocsv1.Operation{Type: ocsv1.OperationFailover, ID: "f1", CompletionTime: &done}), false},
		"a drain superseded by a failback": {homing(drain("d1", &done, 100)),
			homing(&ocsv1.Operation{Type: ocsv1.OperationFailback, ID: "b1"}), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := drainCompleted.Update(event.UpdateEvent{ObjectOld: tt.old, ObjectNew: tt.new}); got != tt.want {
				t.Errorf("drainCompleted.Update = %v, want %v", got, tt.want)
			}
		})
	}
	if drainCompleted.Create(event.CreateEvent{Object: homing(drain("d1", &done, 1))}) {
		t.Error("a created UserHoming must not wake its pool: the manager's start reconciles every pool")
	}
	if drainCompleted.Update(event.UpdateEvent{ObjectOld: &ocsv1.OCSPool{}, ObjectNew: &ocsv1.OCSPool{}}) {
		t.Error("an object that is not a UserHoming must not pass")
	}
}

func TestOCSPoolOfHoming(t *testing.T) {
	h := &ocsv1.UserHoming{
		ObjectMeta: metav1.ObjectMeta{Name: "homing", Namespace: "site"},
		Spec:       ocsv1.UserHomingSpec{PoolRef: ocsv1.PoolReference{Name: "pool"}},
	}
	reqs := poolOfHoming(context.Background(), h)
	if len(reqs) != 1 || reqs[0].NamespacedName != (client.ObjectKey{Namespace: "site", Name: "pool"}) {
		t.Errorf("poolOfHoming = %v, want site/pool", reqs)
	}
	if reqs := poolOfHoming(context.Background(), &ocsv1.UserHoming{}); len(reqs) != 0 {
		t.Errorf("a UserHoming without poolRef maps to %v, want nothing", reqs)
	}
}
