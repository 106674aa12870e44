package controllers

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ocsv1 "github.com/ocsha/ocs-ha-operator/api/v1alpha1"
)

func TestOCSPoolSetPoolConditions(t *testing.T) {
	st := func(name string, state ocsv1.ServerState, homed int32) ocsv1.ServerStatus {
		return ocsv1.ServerStatus{Name: name, State: state, HomedUsers: homed, Message: "because"}
	}
	type want struct {
		ready, degraded, stalled metav1.ConditionStatus
		reason                   string // of Ready
		serving                  string
		homed                    int32
		degradedMsg              string
	}
	tests := map[string]struct {
		servers   []ocsv1.ServerStatus
		rejected  []rejection
		directory *rejection
		want      want
	}{
		"every server Healthy is Ready": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerHealthy, 3), st("ocs2", ocsv1.ServerHealthy, 4)},
			want: want{ready: metav1.ConditionTrue, degraded: metav1.ConditionFalse, stalled: metav1.ConditionFalse,
				reason: ocsv1.ReasonServersServing, serving: "2/2", homed: 7}},
		"an Unreachable server degrades the pool and is named": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerUnreachable, 3), st("ocs2", ocsv1.ServerHealthy, 4)},
			want: want{ready: metav1.ConditionFalse, degraded: metav1.ConditionTrue, stalled: metav1.ConditionFalse,
				reason: ocsv1.ReasonServerNotServing, serving: "1/2", homed: 7, degradedMsg: "Server ocs1 is Unreachable: because"}},
		"a Draining server is maintenance in progress, not a fault": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerDraining, 3), st("ocs2", ocsv1.ServerHealthy, 4)},
			want: want{ready: metav1.ConditionFalse, degraded: metav1.ConditionFalse, stalled: metav1.ConditionFalse,
				reason: ocsv1.ReasonDraining, serving: "1/2", homed: 7}},
		"a Drained server is the desired state": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerDrained, 0), st("ocs2", ocsv1.ServerHealthy, 7)},
			want: want{ready: metav1.ConditionTrue, degraded: metav1.ConditionFalse, stalled: metav1.ConditionFalse,
				reason: ocsv1.ReasonServersServing, serving: "1/2", homed: 7}},
		"a Drained server beside a dead one: Degraded names the dead one only": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerDrained, 0), st("ocs2", ocsv1.ServerUnreachable, 7)},
			want: want{ready: metav1.ConditionFalse, degraded: metav1.ConditionTrue, stalled: metav1.ConditionFalse,
				reason: ocsv1.ReasonServerNotServing, serving: "0/2", homed: 7, degradedMsg: "Server ocs2 is Unreachable"}},
		"a server not yet seen healthy does not serve": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerUnknown, 0), st("ocs2", ocsv1.ServerHealthy, 0)},
			want: want{ready: metav1.ConditionFalse, degraded: metav1.ConditionTrue, stalled: metav1.ConditionFalse,
				reason: ocsv1.ReasonServerNotServing, serving: "1/2", degradedMsg: "ocs1 has not passed a probe yet"}},
		"refused probes stall the pool and Ready says why": {
			servers: []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerUnknown, 0), st("ocs2", ocsv1.ServerUnknown, 0)},
			rejected: []rejection{
				{Server: "ocs1", Reason: ocsv1.ReasonAuthenticationFailed, Detail: "Secret ns/creds refused."},
				{Server: "ocs2", Reason: ocsv1.ReasonAuthenticationFailed, Detail: "Secret ns/creds refused."}},
			want: want{ready: metav1.ConditionFalse, degraded: metav1.ConditionTrue, stalled: metav1.ConditionTrue,
				reason: ocsv1.ReasonAuthenticationFailed, serving: "0/2"}},
		"a directory that refuses the listing stalls a serving pool by name": {
			servers:   []ocsv1.ServerStatus{st("ocs1", ocsv1.ServerHealthy, 3), st("ocs2", ocsv1.ServerHealthy, 4)},
			directory: &rejection{Server: "ocs1", Reason: ocsv1.ReasonDirectoryAccessDenied, Detail: "Active Directory refused …"},
			want: want{ready: metav1.ConditionFalse, degraded: metav1.ConditionFalse, stalled: metav1.ConditionTrue,
				reason: ocsv1.ReasonDirectoryAccessDenied, serving: "2/2", homed: 7}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pool := validPool("ns")
			pool.Status.Servers = tt.servers
			setPoolConditions(pool, tt.rejected, tt.directory)
			conds := pool.Status.Conditions
			check := func(typ string, want metav1.ConditionStatus) *metav1.Condition {
				c := meta.FindStatusCondition(conds, typ)
				if c == nil || c.Status != want {
					t.Fatalf("%s = %+v, want %s", typ, c, want)
				}
				return c
			}
			if r := check(ocsv1.ConditionReady, tt.want.ready); r.Reason != tt.want.reason {
				t.Errorf("Ready reason = %s, want %s", r.Reason, tt.want.reason)
			}
			if d := check(ocsv1.ConditionDegraded, tt.want.degraded); !strings.Contains(d.Message, tt.want.degradedMsg) {
				t.Errorf("Degraded message = %q, want %q in it", d.Message, tt.want.degradedMsg)
			}
			s := check(ocsv1.ConditionStalled, tt.want.stalled)
			// Reconciling is True only while a server drains for maintenance.
			check(ocsv1.ConditionReconciling, map[bool]metav1.ConditionStatus{true: metav1.ConditionTrue, false: metav1.ConditionFalse}[tt.want.reason == ocsv1.ReasonDraining])
			if tt.want.stalled == metav1.ConditionTrue && tt.directory == nil &&
				(strings.Count(s.Message, "Secret ns/creds") != 1 || !strings.Contains(s.Message, "ocs1, ocs2")) {
				t.Errorf("Stalled message = %q, want both servers and the Secret named once", s.Message)
			}
			if pool.Status.ServingServers != tt.want.serving || pool.Status.HomedUsers != tt.want.homed {
				t.Errorf("servingServers %q homedUsers %d, want %q %d", pool.Status.ServingServers, pool.Status.HomedUsers,
					tt.want.serving, tt.want.homed)
			}
		})
	}
}

func TestOCSPoolTransitionEvent(t *testing.T) {
	tests := map[string]struct {
		from, to          ocsv1.ServerState
		eventType, reason string
	}{
		"no change, no event":        {ocsv1.ServerHealthy, ocsv1.ServerHealthy, "", ""},
		"first probe passed":         {ocsv1.ServerUnknown, ocsv1.ServerHealthy, corev1.EventTypeNormal, eventServerHealthy},
		"crash":                      {ocsv1.ServerHealthy, ocsv1.ServerUnreachable, corev1.EventTypeWarning, eventServerUnreachable},
		"service stopped":            {ocsv1.ServerHealthy, ocsv1.ServerUnhealthy, corev1.EventTypeWarning, eventServerUnhealthy},
		"maintenance started":        {ocsv1.ServerHealthy, ocsv1.ServerDraining, corev1.EventTypeNormal, eventServerDraining},
		"maintenance drained":        {ocsv1.ServerDraining, ocsv1.ServerDrained, corev1.EventTypeNormal, eventServerDrained},
		"back to unknown is no news": {ocsv1.ServerHealthy, ocsv1.ServerUnknown, "", ""},
		"credentials refused":        {ocsv1.ServerHealthy, ocsv1.ServerAuthenticationFailed, corev1.EventTypeWarning, eventServerAuthFailed},
		"certificate refused":        {ocsv1.ServerUnreachable, ocsv1.ServerTLSFailed, corev1.EventTypeWarning, eventServerTLSFailed},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			et, reason := transitionEvent(tt.from, tt.to)
			if et != tt.eventType || reason != tt.reason {
				t.Errorf("transitionEvent = %q %q, want %q %q", et, reason, tt.eventType, tt.reason)
			}
		})
	}
}

func TestOCSPoolDirectoryDeniedMessageNamesTheFix(t *testing.T) {
	denied := errors.New("ListUsers on ocs1: exit code 1: Get-WmiObject : Access denied")
	tests := map[string]struct {
		auth ocsv1.WinRMAuth
		want []string
	}{
		"NTLM cannot make the second hop": {auth: ocsv1.WinRMAuthNTLM,
			want: []string{"spec.servers[0].winrm.auth is NTLM", "CredSSP", "Enable-WSManCredSSP -Role Server", "Access denied"}},
		"Basic cannot either": {auth: ocsv1.WinRMAuthBasic, want: []string{"winrm.auth is Basic", "Enable-WSManCredSSP"}},
		"with CredSSP the account lacks the rights": {auth: ocsv1.WinRMAuthCredSSP,
			want: []string{"RTCUniversalUserAdmins", "CsUserAdministrator"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pool := validPool("ns")
			pool.Spec.Servers[0].WinRM.Auth = tt.auth
			msg := directoryDeniedMessage(pool, pool.Spec.Servers[0].Name, denied)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q lacks %q", msg, w)
				}
			}
		})
	}
}
